"""One message through the dispatcher (dispatch.py runs the passes): claim it when it is due
and may go, or make it wait; send it; record the provider's outcome.

A claim locks the message with its patient and invitation (`FOR UPDATE ... SKIP LOCKED` on
PostgreSQL), so two dispatchers never claim the same message nor count the same patient's
limits at once. The claimed message is committed as `sending`, with its link minted, just
before its own provider call; its outcome is recorded in a transaction of its own.

Each step is as few statements as its guarantees allow (docs/performance.md, section 4): the
claim reads the message, patient, invitation and episode in one locking query of columns (no
ORM objects); on PostgreSQL it locks the number, counts the limits, then marks the message
`sending`, writes its event and mints its link in one statement (`message_status.move`);
the outcome is one guarded statement (`WHERE attempts = ... AND status IN (...)`), so a
status report that came first is never overwritten. Each site's name and each text's
template are read once per pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from survey.domain.invitations import link_url, new_link, opens_before
from survey.models import (
    ChannelAlarm,
    Episode,
    Invitation,
    InvitationLink,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    SmsSender,
)
from survey.outreach.alarms import raise_alarm
from survey.outreach.backends import Outcome, OutgoingSms, SendResult, SmsBackend
from survey.outreach.consent import record_opt_out
from survey.outreach.dispatch_report import DispatchReport
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.message_status import PROVIDER_REPORTS, Step
from survey.outreach.policy import (
    QUIET_HOURS,
    SendingRules,
    limit_wait,
    next_allowed_time,
    sending_time_left,
)
from survey.outreach.texts import fill, link_text_kind, neutral_name, template

# The dispatcher's logger, as before this module was split from dispatch.py.
logger = logging.getLogger("survey.outreach.dispatch")
WAITING_FOR_INVITATION = "waiting_for_invitation"
CHANNEL_PAUSED = "channel_paused"
# A text that could not reach the phone this long before quiet hours start waits for the
# morning instead: sent now, it would most likely expire on the way.
LAST_CALL = timedelta(minutes=5)
# A reminder's invitation text that has not gone yet (or may not have): the reminder waits.
NOT_GONE = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.REVIEW)


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    sms: OutgoingSms


@dataclass
class PassCache:
    """What one sender reads once per pass: each site's chosen SMS name, each text's
    template in each language, each language's neutral name."""

    names: dict[int, str | None] = field(default_factory=dict)
    templates: dict[tuple[str, str], str] = field(default_factory=dict)
    neutral: dict[str, str] = field(default_factory=dict)

    def sender_name(self, db: Session, site_id: int, language: str) -> str:
        """The site's chosen name, else (never the site's own name) a neutral default."""
        if site_id not in self.names:
            self.names[site_id] = db.scalar(
                select(SmsSender.name).where(SmsSender.site_id == site_id)
            )
        if (name := self.names[site_id]) is not None:
            return name
        if language not in self.neutral:
            self.neutral[language] = neutral_name(language)
        return self.neutral[language]

    def template(self, kind: str, language: str) -> str:
        if (kind, language) not in self.templates:
            self.templates[kind, language] = template(kind, language)
        return self.templates[kind, language]


def not_needed(invitation: Invitation, now: datetime) -> str | None:
    """Why a pending message of this invitation is no longer needed, or None."""
    return _not_needed(invitation.status, invitation.expires_at, now)


def _not_needed(status: str, expires_at: datetime, now: datetime) -> str | None:
    if status == InvitationStatus.COMPLETED:
        return "completed"
    if status == InvitationStatus.CANCELLED:
        return "invitation_cancelled"
    if now >= expires_at:
        return "expired"
    return None


_first = aliased(Message)
# For a reminder: when its invitation's own text is due, while that text has not gone.
_INVITATION_NOT_GONE = (
    select(_first.due_at)
    .where(
        _first.invitation_id == Message.invitation_id,
        _first.kind == MessageKind.INVITATION,
        _first.status.in_(NOT_GONE),
        _first.resolved_at.is_(None),
    )
    .limit(1)
    .scalar_subquery()
)


# The next due message that may be claimed (at `now`), with all a claim reads, locked.
NEXT_DUE = (
    select(
        Message.id,
        Message.kind,
        Message.attempts,
        Message.invitation_id,
        Patient.id.label("patient_id"),
        Patient.site_id,
        Patient.phone,
        Patient.language,
        Patient.timezone,
        Patient.channel,
        Patient.index_date.label("patient_index_date"),
        Invitation.status.label("invitation_status"),
        Invitation.expires_at,
        Invitation.opens_at,
        Invitation.timepoint,
        Invitation.episode_id,
        Episode.index_date.label("episode_index_date"),
        _INVITATION_NOT_GONE.label("invitation_due_at"),
    )
    .join(Patient, Message.patient_id == Patient.id)
    .join(Invitation, Message.invitation_id == Invitation.id)
    .outerjoin(Episode, Invitation.episode_id == Episode.id)
    .where(
        Message.status == MessageStatus.PENDING,
        Message.due_at <= bindparam("now"),
        Patient.status == PatientStatus.ACTIVE,
        Patient.opted_out_at.is_(None),
        # A paused channel claims nothing: its messages wait, unfailed, for the resume.
        ~exists().where(
            ChannelAlarm.site_id == Patient.site_id, ChannelAlarm.channel == Patient.channel
        ),
    )
    .order_by(Message.due_at, Message.id)
    .limit(1)
    .with_for_update(skip_locked=True, of=(Message, Patient, Invitation))
)
# The statements each claim runs, built once (building and hashing them for every message
# cost more than the send itself).
THIS = Message.id == bindparam("message_id")
LOCK_NUMBER = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("phone", type_=String))))
WAIT = (
    update(Message.__table__)
    .where(THIS)
    .values(due_at=bindparam("due_at"), wait_reason=bindparam("why"))
)
CANCEL = Step(MessageStatus.CANCELLED, where=THIS, only_from=(MessageStatus.PENDING,))
NO_NUMBER = Step(MessageStatus.FAILED, where=THIS, only_from=(MessageStatus.PENDING,))
CLAIM = Step(
    MessageStatus.SENDING,
    where=THIS,
    values=("language", "phone"),
    also=insert(InvitationLink).values(
        # Named apart from the messages' columns: a parameter named as one would set it.
        invitation_id=bindparam("link_invitation_id"),
        token_hash=bindparam("link_token_hash"),
        created_at=bindparam("link_created_at", type_=InvitationLink.created_at.type),
    ),
)
# A send's outcome: only a message still in this attempt's `sending` (or `review`) moves; a
# status report that came first has moved it on, and it stays.
THIS_ATTEMPT = THIS & (Message.attempts == bindparam("attempt"))
IN_HAND = (MessageStatus.SENDING, MessageStatus.REVIEW)
OUTCOMES = {
    status: Step(
        status,
        where=THIS_ATTEMPT,
        only_from=IN_HAND,
        values=("provider_sid", "provider_status", "segments"),
    )
    for status in PROVIDER_REPORTS
}
PAUSED = Step(MessageStatus.PENDING, where=THIS_ATTEMPT, only_from=IN_HAND, values=("wait_reason",))
RETRY = Step(MessageStatus.PENDING, where=THIS_ATTEMPT, only_from=IN_HAND, values=("due_at",))
FAILED = Step(MessageStatus.FAILED, where=THIS_ATTEMPT, only_from=IN_HAND)
REVIEW = Step(MessageStatus.REVIEW, where=THIS_ATTEMPT, only_from=IN_HAND)
FILL_SEGMENTS = (
    update(Message).where(THIS, Message.segments.is_(None)).values(segments=bindparam("segments"))
)


def claim_next(
    db: Session,
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    claimed_at: datetime | None = None,
    cache: PassCache | None = None,
) -> tuple[bool, Claim | None]:
    """Claim the next due message in a transaction of its own: whether one was found, and the
    claim if it may go now (a message that must wait, or is not needed, is dealt with here).

    One message per transaction, committed just before its own provider call: a dispatcher
    killed mid-send leaves only the message in flight in `sending` (then review), never the
    ones it had not reached yet."""
    row = db.execute(NEXT_DUE, {"now": now}).first()
    if row is None:
        db.commit()
        return False, None
    claim = None
    if reason := _not_needed(row.invitation_status, row.expires_at, now):
        CANCEL.run(db, at=now, reason=reason, message_id=row.id)
        report.cancelled += 1
    elif not row.phone:
        NO_NUMBER.run(db, at=now, reason="no_number", message_id=row.id)
        report.failed += 1
    elif wait := _wait(db, row, now, settings.rules):
        db.execute(WAIT, {"message_id": row.id, "due_at": wait[0], "why": wait[1]})
        report.waiting += 1
    else:
        claim = _claim(db, row, settings, claimed_at or now, cache or PassCache())
    db.commit()
    return True, claim


def _wait(db: Session, row, now: datetime, rules: SendingRules) -> tuple[datetime, str] | None:
    """When a due message may go instead of now, and why; None if it may go now."""
    if row.kind == MessageKind.REMINDER and row.invitation_due_at is not None:
        # A reminder never arrives before the invitation it recalls.
        return max(row.invitation_due_at, now) + timedelta(hours=1), WAITING_FOR_INVITATION
    allowed = next_allowed_time(now, row.timezone, rules)
    if allowed > now:
        return allowed, QUIET_HOURS
    if sending_time_left(now, row.timezone, rules) < LAST_CALL:
        return next_allowed_time(now + LAST_CALL, row.timezone, rules), QUIET_HOURS
    if db.get_bind().dialect.name == "postgresql":
        # Two patients who share a phone are two rows: lock the number itself, so that two
        # senders never both find it under its limits (released at this claim's commit).
        # Its own statement: the count below must see what the lock's holder committed.
        db.execute(LOCK_NUMBER, {"phone": row.phone})
    if held := limit_wait(db, row.patient_id, row.phone, row.timezone, now, rules):
        day_starts, reason = held
        return next_allowed_time(day_starts, row.timezone, rules), reason
    return None


def _claim(db: Session, row, settings: DispatchSettings, claimed_at: datetime, cache: PassCache):
    """Mark a message as being sent and mint the link it carries (in this transaction)."""
    token, link_row = new_link(row.invitation_id)
    moved = CLAIM.run(
        db,
        at=claimed_at,
        message_id=row.id,
        language=row.language,
        phone=row.phone,
        **{f"link_{column}": value for column, value in link_row.items()},
    )
    if moved != [row.id]:  # the row is locked by this claim: nothing else can move it
        raise RuntimeError(f"message {row.id} could not be claimed")
    index_date = row.episode_index_date if row.episode_id else row.patient_index_date
    kind = link_text_kind(
        reminder=row.kind == MessageKind.REMINDER,
        before_treatment=opens_before(row.opens_at, row.timezone, index_date, row.timepoint),
    )
    name = cache.sender_name(db, row.site_id, row.language)
    link = link_url(settings.public_url, token)
    body = fill(cache.template(kind, row.language), row.language, name, link)
    left = sending_time_left(claimed_at, row.timezone, settings.rules)
    sms = OutgoingSms(
        row.id,
        row.site_id,
        row.phone,
        body,
        settings.status_callback(row.id),
        validity_seconds=max(1, int(left.total_seconds())),
        channel=row.channel or "sms",
        variables={"1": name, "2": link} if row.channel == "whatsapp" else None,
    )
    return Claim(row.id, row.attempts + 1, sms)


def send_claim(backend: SmsBackend, claim: Claim) -> SendResult:
    """The provider call for a claimed message; a backend's surprise is an unknown outcome."""
    try:
        return backend.send(claim.sms)
    except Exception as error:  # a bug or surprise after the claim: it may have gone
        logger.error("SMS backend failed on message %s: %s", claim.message_id, type(error).__name__)
        return SendResult(Outcome.UNKNOWN, reason="backend_error")


def record_result(
    db: Session,
    claim: Claim,
    result: SendResult,
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    commit: bool = True,
) -> None:
    """Record a send's outcome in one guarded statement: only a message still in this
    attempt's `sending` (or `review`) moves. Committed here, or (commit=False) with the next
    claim, which commits before its own send: one durable commit a message, not two."""
    params = {"message_id": claim.message_id, "attempt": claim.attempt}
    outcome, code, why = result.outcome, result.error_code, result.reason
    if outcome == Outcome.ACCEPTED:
        moved = OUTCOMES[result.status or MessageStatus.QUEUED].run(
            db,
            at=now,
            **params,
            provider_sid=result.provider_sid,
            provider_status=(result.provider_status or "")[:32] or None,
            segments=result.segments,
        )
        if not moved:
            db.execute(FILL_SEGMENTS, {**params, "segments": result.segments})
        report.sent += 1
    elif outcome == Outcome.CHANNEL:
        # Not this message's fault: it waits, unfailed, until the channel is resumed.
        moved = PAUSED.run(
            db, at=now, error_code=code, reason=why, wait_reason=CHANNEL_PAUSED, **params
        )
        if moved:
            raise_alarm(
                db,
                claim.sms.site_id,
                error_code=code,
                reason=why,
                now=now,
                channel=claim.sms.channel,
            )
            report.waiting += 1
    elif outcome == Outcome.RETRY and claim.attempt < settings.max_attempts:
        due_at = now + settings.retry_delay(claim.attempt)
        moved = RETRY.run(db, at=now, error_code=code, reason=why, due_at=due_at, **params)
        report.retrying += bool(moved)
    elif outcome in (Outcome.RETRY, Outcome.FAILED):
        reason = why if outcome == Outcome.FAILED else "gave_up"
        moved = FAILED.run(db, at=now, error_code=code, reason=reason, **params)
        if moved and why == "opted_out":
            record_opt_out(db, claim.sms.to, now, source="provider")
        report.failed += bool(moved)
    else:
        moved = REVIEW.run(db, at=now, reason=why, **params)
        report.review += bool(moved)
    if commit:
        db.commit()
