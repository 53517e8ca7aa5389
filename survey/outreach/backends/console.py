"""The console backend: sends nothing. Each message goes to the log with its link hidden,
and, in development, to an outbox file that the outbox page lists with working links."""

import json
import logging
import re
import secrets
import threading
from datetime import datetime
from pathlib import Path

from survey.models import MessageStatus, utcnow
from survey.outreach.backends.interface import Outcome, OutgoingSms, SendResult
from survey.outreach.segments import count_segments

logger = logging.getLogger("survey.outreach.console")
LINK_TOKEN = re.compile(r"/s/[A-Za-z0-9_-]+")
KEEP = 200  # entries kept in the outbox file
# The dispatcher may send from several threads: appending and trimming must not interleave.
OUTBOX_LOCK = threading.Lock()


def hide_links(body: str) -> str:
    return LINK_TOKEN.sub("/s/[link hidden]", body)


class ConsoleBackend:
    name = "console"

    def __init__(self, outbox: Path | None = None) -> None:
        self.outbox = outbox

    def send(self, sms: OutgoingSms) -> SendResult:
        count = count_segments(sms.body)
        logger.info(
            "SMS not sent (console backend), message %s to …%s, %d segment(s) %s: %s",
            sms.message_id,
            sms.to[-3:],
            count.segments,
            count.encoding,
            hide_links(sms.body),
        )
        if self.outbox is not None:
            append_to_outbox(self.outbox, sms, utcnow())
        return SendResult(
            Outcome.ACCEPTED,
            provider_sid=f"CONSOLE{secrets.token_hex(12)}",
            provider_status="sent",
            segments=count.segments,
            status=MessageStatus.SENT,
        )


def append_to_outbox(path: Path, sms: OutgoingSms, at: datetime) -> None:
    """Add a message to the development outbox file, keeping only the newest entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "at": at.isoformat(),
        "message_id": sms.message_id,
        "site_id": sms.site_id,
        "to": sms.to,
        "body": sms.body,
    }
    with OUTBOX_LOCK:
        with path.open("a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(entry, ensure_ascii=False) + "\n")
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > 2 * KEEP:
            path.write_text("\n".join(lines[-KEEP:]) + "\n", encoding="utf-8")


def read_outbox(path: Path, site_ids: list[int], limit: int = 100) -> list[dict]:
    """The newest outbox entries for these sites, newest first."""
    if not path.exists():
        return []
    entries = []
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("site_id") in site_ids:
            entry["at"] = datetime.fromisoformat(entry["at"])
            entries.append(entry)
        if len(entries) >= limit:
            break
    return entries
