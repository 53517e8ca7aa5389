"""The interface every SMS backend implements: `send(OutgoingSms) -> SendResult`, with one of
five outcomes (see the package's description in __init__.py)."""

import enum
from dataclasses import dataclass
from typing import Protocol

from survey.models import MessageStatus

# Each concurrent send also holds a database connection: stay within SQLAlchemy's default pool
# (5 + 10 overflow), with one left for the pass's own session.
MAX_CONCURRENT_SENDS = 10


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took it
    RETRY = "retry"  # it certainly did not go (or the provider asked us to come back later)
    FAILED = "failed"  # the provider refused it for good
    UNKNOWN = "unknown"  # it may or may not have gone: a person must decide
    # The account or sender was refused: every message would fail the same way. This one
    # did not go; the site's channel pauses until an administrator resumes it.
    CHANNEL = "channel"


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send. `body` holds a working link: keep it in memory, never store or log it."""

    message_id: int
    site_id: int
    to: str
    body: str
    status_callback: str | None = None
    # Seconds the provider may keep trying: a text that cannot go before quiet hours start
    # expires instead of arriving in the night.
    validity_seconds: int | None = None
    channel: str = "sms"  # or "whatsapp"
    # A WhatsApp template's variables ({"1": clinic, "2": link}): in memory only, as the body.
    variables: dict[str, str] | None = None

    def __repr__(self) -> str:  # never shows the body, whatever prints it
        return f"<OutgoingSms message={self.message_id} to=…{self.to[-3:]}>"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_sid: str | None = None
    provider_status: str | None = None
    segments: int | None = None
    error_code: int | None = None
    reason: str | None = None  # "opted_out": the number unsubscribed at the provider
    status: MessageStatus | None = None  # the provider's status, in our words


class SmsBackend(Protocol):
    name: str

    def send(self, sms: OutgoingSms) -> SendResult: ...
