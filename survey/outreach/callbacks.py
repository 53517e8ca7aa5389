"""What the SMS provider tells us after a send, and what patients text back.

Status reports arrive late, twice, or out of order; a status only ever moves a message
forward (queued < sent < delivered; undelivered and failed are final), so a late "sent"
never overwrites "delivered". Replies STOP, START and HELP change the patient's consent or
get the clinic's contact; the text of other replies is never stored (it may hold health
information), only the fact that the patient replied.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.audit import record
from survey.models import Message, MessageStatus, Patient
from survey.models.outreach import INBOUND_RECEIPT
from survey.outreach.backends import twilio_codes
from survey.outreach.consent import patients_with, record_opt_in, record_opt_out
from survey.outreach.message_status import can_move, note, transition
from survey.outreach.texts import help_text, sender_name

__all__ = ["INBOUND_RECEIPT", "record_opt_in", "record_opt_out"]  # kept importable from here

# Twilio's statuses, in our words (its codes are the Twilio backend's: `twilio_codes`).
PROVIDER_STATUS = twilio_codes.STATUS
RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.REVIEW: 1,  # unknown: anything the provider says is news
    MessageStatus.QUEUED: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.CANCELLED: 5,
}
OPTED_OUT_CODES = twilio_codes.OPTED_OUT

STOP_WORDS = {
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    # The same wish in the patients' other languages; Twilio itself acts only on the English
    # words, so honouring these as well can only send less.
    "BAJA",
    "PARAR",
    "DUR",
    "IPTAL",
    "İPTAL",
}
START_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO", "AYUDA", "YARDIM"}


def apply_status(
    db: Session,
    *,
    sid: str,
    provider_status: str,
    error_code: int | None,
    now: datetime,
    message_id: int | None = None,
) -> Message | None:
    """Record a status report; returns the message, or None when it is not ours.

    `message_id` comes from the callback address the dispatcher gave the provider, so a send
    whose answer never arrived (status review) still learns its fate."""
    if not sid.isprintable() or not provider_status.isprintable():
        return None  # no Twilio identifier holds control characters (PostgreSQL refuses NUL)
    if error_code is not None and not 0 <= error_code <= 2**31 - 1:
        error_code = None  # not a Twilio error code, and too big for the column
    if message_id is not None and not 0 < message_id <= 2**31 - 1:
        message_id = None  # not one of our row ids
    message = db.scalar(select(Message).where(Message.provider_sid == sid).with_for_update())
    if message is None and message_id is not None:
        message = db.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if message is None:
        return None
    new = PROVIDER_STATUS.get((provider_status or "").lower())
    if message.provider_sid not in (None, sid):
        # A report on another copy: an earlier attempt went through after all.
        note(
            message,
            at=now,
            reason="another_copy",
            source="provider",
            status=provider_status[:16],
            error_code=error_code,
        )
        return message
    if new is None or not can_move(message, new) or RANK[new] <= RANK[message.status]:
        return message
    message.provider_sid = sid
    message.provider_status = provider_status[:32]
    failed = new in (MessageStatus.UNDELIVERED, MessageStatus.FAILED)
    transition(
        message,
        new,
        at=now,
        source="provider",
        error_code=error_code,
        reason="not_delivered" if failed else None,
    )
    if error_code in OPTED_OUT_CODES and message.patient.phone:
        record_opt_out(db, message.patient.phone, now, source="provider")
    return message


@dataclass
class InboundResult:
    keyword: str  # stop, start, help, other
    patients: list[Patient] = field(default_factory=list)
    reply: str | None = None  # a text to send back, when we answer ourselves


def keyword_of(body: str, opt_out_type: str | None) -> str:
    """What a patient's text asks for. Twilio's Advanced Opt-Out names it for us."""
    if opt_out_type:
        return {"STOP": "stop", "START": "start", "HELP": "help"}.get(opt_out_type.upper(), "other")
    words = " ".join((body or "").split()).strip(" .!¡?¿").upper()
    if words in STOP_WORDS:
        return "stop"
    if words in START_WORDS:
        return "start"
    if words in HELP_WORDS:
        return "help"
    return "other"


def handle_inbound(
    db: Session, *, from_number: str, body: str, opt_out_type: str | None, now: datetime
) -> InboundResult:
    """Act on a text from a patient. HELP is answered here unless Twilio's Advanced Opt-Out
    answers it (it then sends OptOutType)."""
    if not from_number.isprintable():
        return InboundResult("other")  # not a phone number: nobody to act for
    keyword = keyword_of(body, opt_out_type)
    if keyword == "stop":
        return InboundResult(keyword, record_opt_out(db, from_number, now, source="sms"))
    if keyword == "start":
        return InboundResult(keyword, record_opt_in(db, from_number, now, source="sms"))
    patients = patients_with(db, from_number)
    if keyword == "other":
        for patient in patients:
            record(db, "patient.replied", subject=patient)
        return InboundResult(keyword, patients)
    reply = None
    if patients and not opt_out_type:
        newest = patients[-1]
        reply = help_text(
            newest.language, sender_name(db, newest.site, newest.language), newest.site.contact
        )
    return InboundResult(keyword, patients, reply)
