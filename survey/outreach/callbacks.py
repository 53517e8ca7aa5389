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
from survey.models import Message, MessageEvent, MessageStatus, Patient
from survey.outreach.texts import help_text, sender_name

# Twilio's statuses, in our words.
PROVIDER_STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
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
FINAL = {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED}
OPTED_OUT_CODES = {21610}  # "Attempt to send to unsubscribed recipient"
# Webhook receipts of patients' texts start with this; they are kept for good (dispatch.py),
# so a captured STOP or START posted again, however late, changes nothing.
INBOUND_RECEIPT = "inbound:"

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
        db.add(
            MessageEvent(
                message=message,
                occurred_at=now,
                status=provider_status[:16],
                source="provider",
                error_code=error_code,
                reason="another_copy",
            )
        )
        return message
    if new is None or not (
        message.status in (MessageStatus.SENDING, MessageStatus.REVIEW)
        or RANK[new] > RANK[message.status]
    ):
        return message
    message.status = new
    message.provider_sid = sid
    message.provider_status = provider_status[:32]
    if new in (MessageStatus.UNDELIVERED, MessageStatus.FAILED):
        message.error_code, message.reason = error_code, "not_delivered"
    else:
        message.error_code, message.reason = None, None
    if new in FINAL:
        message.finished_at = now
    db.add(
        MessageEvent(
            message=message, occurred_at=now, status=new, source="provider", error_code=error_code
        )
    )
    if error_code in OPTED_OUT_CODES and message.patient.phone:
        record_opt_out(db, message.patient.phone, now, source="provider")
    return message


def record_opt_out(db: Session, phone: str, now: datetime, source: str) -> list[Patient]:
    """Every patient with this number is opted out: nothing more is sent to it."""
    changed = []
    for patient in _patients_with(db, phone):
        if patient.opted_out_at is None:
            patient.opted_out_at = now
            record(db, "patient.opted_out", subject=patient, detail={"source": source})
            changed.append(patient)
    return changed


def record_opt_in(db: Session, phone: str, now: datetime, source: str) -> list[Patient]:
    """The patient texted START: messages held for them may go again."""
    changed = []
    for patient in _patients_with(db, phone):
        if patient.opted_out_at is not None:
            patient.opted_out_at = None
            record(db, "patient.opted_in", subject=patient, detail={"source": source})
            changed.append(patient)
    return changed


def _patients_with(db: Session, phone: str) -> list[Patient]:
    return list(
        db.scalars(
            select(Patient).where(Patient.phone == phone).order_by(Patient.id).with_for_update()
        )
    )


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
    patients = _patients_with(db, from_number)
    if keyword == "other":
        for patient in patients:
            record(db, "patient.replied", subject=patient)
        return InboundResult(keyword, patients)
    reply = None
    if patients and not opt_out_type:
        newest = patients[-1]
        reply = help_text(newest.language, sender_name(db, newest.site), newest.site.contact)
    return InboundResult(keyword, patients, reply)
