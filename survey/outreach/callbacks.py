"""What the SMS provider tells us after a send, and what patients text back.

Status reports arrive late, twice, or out of order; a status only ever moves a message
forward (queued < sent < delivered; undelivered and failed are final), so a late "sent"
never overwrites "delivered". Replies STOP, START and HELP change the patient's consent or
get the clinic's contact; a reply with an opt-out word among others ("Stop please", "Dur
lütfen") opts out too, and is confirmed in the patient's language. Any other reply is kept
for a person on Needs attention: its text may hold health information, so it is protected as
answers are (shown to the patient's site only, each view audited, never logged).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.audit_trail import record
from survey.models import Message, MessageStatus, Patient, Reply
from survey.models.outreach import INBOUND_RECEIPT
from survey.outreach.backends import twilio_codes
from survey.outreach.consent import patients_with, record_opt_in, record_opt_out
from survey.outreach.message_status import can_move, note, transition
from survey.outreach.texts import OPTED_OUT, help_text, render, sender_name

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
REPLY_MAX = 1600  # Twilio's longest message

# Twilio itself blocks the number and confirms on these, when they are the whole text.
TWILIO_STOP_WORDS = {
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
}
# Opt-out words honoured anywhere in a reply ("Stop please", "Dur lütfen"), compared without
# case or accents, as whole words: the patients' wish in en, es and tr. Twilio acts only on
# its English words alone, so honouring these as well can only send less.
OPT_OUT_WORDS = {
    "stop",
    "stopall",
    "unsubscribe",
    "optout",
    "baja",
    "cancelar",
    "parar",
    "iptal",
    "dur",
}
# Opt-outs in several words: every word of one of these sets appears in the reply.
OPT_OUT_PHRASES = (
    {"no", "quiero", "mensajes"},
    {"no", "quiero", "mensaje"},
    {"no", "quiero", "sms"},
    {"no", "mas", "mensajes"},
    {"no", "more", "messages"},
    {"no", "more", "texts"},
    {"mesaj", "istemiyorum"},
    {"sms", "istemiyorum"},
)
START_WORDS = {"start", "unstop", "yes"}
HELP_WORDS = {"help", "info", "ayuda", "yardim"}


def plain_words(body: str) -> list[str]:
    """A reply's words, lower case and without accents (Turkish ı and İ become i)."""
    folded = (body or "").replace("ı", "i").replace("İ", "I").casefold()
    bare = "".join(
        char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char)
    )
    return re.findall(r"[^\W_]+", bare)


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
    words = plain_words(body)
    whole = " ".join(words)
    if whole in TWILIO_STOP_WORDS or OPT_OUT_WORDS.intersection(words):
        return "stop"
    if any(phrase <= set(words) for phrase in OPT_OUT_PHRASES):
        return "stop"
    if whole in START_WORDS:
        return "start"
    if whole in HELP_WORDS:
        return "help"
    return "other"


def last_texted(db: Session, phone: str, patients: list[Patient]) -> Patient | None:
    """Of the patients with this number, the one it last received a text for (else the
    newest): a reply most likely answers that text, in that patient's language."""
    if not patients:
        return None
    patient_id = db.scalar(
        select(Message.patient_id)
        .where(Message.phone == phone, Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    )
    return next((patient for patient in patients if patient.id == patient_id), patients[-1])


def handle_inbound(
    db: Session, *, from_number: str, body: str, opt_out_type: str | None, now: datetime
) -> InboundResult:
    """Act on a text from a patient. STOP in other words is confirmed here (Twilio confirms
    its own keywords); HELP is answered here unless Twilio's Advanced Opt-Out answers it (it
    then sends OptOutType); any other text waits on Needs attention for a person."""
    if not from_number.isprintable():
        return InboundResult("other")  # not a phone number: nobody to act for
    keyword = keyword_of(body, opt_out_type)
    if keyword == "start":
        return InboundResult(keyword, record_opt_in(db, from_number, now, source="sms"))
    patients = patients_with(db, from_number)
    addressee = last_texted(db, from_number, patients)
    if keyword == "stop":
        changed = record_opt_out(db, from_number, now, source="sms")
        reply = None
        twilio_confirms = " ".join(plain_words(body)) in TWILIO_STOP_WORDS
        if addressee is not None and not opt_out_type and not twilio_confirms:
            language = addressee.language
            reply = render(OPTED_OUT, language, sender_name(db, addressee.site, language))
        return InboundResult(keyword, changed, reply)
    if keyword == "other":
        text = (body or "").replace("\x00", "").strip()[:REPLY_MAX]
        for patient in patients:
            record(db, "patient.replied", subject=patient)
        if addressee is not None and text:
            db.add(
                Reply(
                    site_id=addressee.site_id,
                    patient_id=addressee.id,
                    body=text,
                    received_at=now,
                )
            )
        return InboundResult(keyword, patients)
    reply = None
    if addressee is not None and not opt_out_type:
        language = addressee.language
        reply = help_text(
            language, sender_name(db, addressee.site, language), addressee.site.contact
        )
    return InboundResult(keyword, patients, reply)
