"""One message through the dispatcher (dispatch.py runs the passes): claim it when it is due
and may go, or make it wait; send it; record the provider's outcome.

A claim locks the message with its patient and invitation (`FOR UPDATE ... SKIP LOCKED` on
PostgreSQL), so two dispatchers never claim the same message nor count the same patient's
limits at once. The claimed message is committed as `sending`, with its link minted, just
before its own provider call; its outcome is recorded in a transaction of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from survey.domain.invitations import asks_before_treatment, link_url, mint_link
from survey.models import (
    ChannelAlarm,
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
)
from survey.outreach.alarms import raise_alarm
from survey.outreach.backends import Outcome, OutgoingSms, SendResult, SmsBackend
from survey.outreach.consent import record_opt_out
from survey.outreach.message_status import transition
from survey.outreach.policy import (
    QUIET_HOURS,
    SendingRules,
    limit_wait,
    next_allowed_time,
    sending_time_left,
)
from survey.outreach.texts import chosen_sender_name, link_text_kind, neutral_name, render

if TYPE_CHECKING:  # dispatch.py imports this module, and passes its settings and report in
    from survey.outreach.dispatch import DispatchReport, DispatchSettings

# The dispatcher's logger, as before this module was split from dispatch.py.
logger = logging.getLogger("survey.outreach.dispatch")
WAITING_FOR_INVITATION = "waiting_for_invitation"
CHANNEL_PAUSED = "channel_paused"
# A text that could not reach the phone this long before quiet hours start waits for the
# morning instead: sent now, it would most likely expire on the way.
LAST_CALL = timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    sms: OutgoingSms


def not_needed(invitation: Invitation, now: datetime) -> str | None:
    """Why a pending message of this invitation is no longer needed, or None."""
    if invitation.status == InvitationStatus.COMPLETED:
        return "completed"
    if invitation.status == InvitationStatus.CANCELLED:
        return "invitation_cancelled"
    if invitation.is_expired(now):
        return "expired"
    return None


def claim_next(
    db: Session,
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    claimed_at: datetime | None = None,
    names: dict[int, str] | None = None,
) -> tuple[bool, Claim | None]:
    """Claim the next due message in a transaction of its own: whether one was found, and the
    claim if it may go now (a message that must wait, or is not needed, is dealt with here).

    One message per transaction, committed just before its own provider call: a dispatcher
    killed mid-send leaves only the message in flight in `sending` (then review), never the
    ones it had not reached yet."""
    row = db.execute(
        select(Message, Patient, Invitation)
        .join(Patient, Message.patient_id == Patient.id)
        .join(Invitation, Message.invitation_id == Invitation.id)
        .where(
            Message.status == MessageStatus.PENDING,
            Message.due_at <= now,
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
    ).first()
    if row is None:
        db.commit()
        return False, None
    message, patient, invitation = row
    claim = None
    if reason := not_needed(invitation, now):
        transition(message, MessageStatus.CANCELLED, at=now, reason=reason)
        report.cancelled += 1
    elif not patient.phone:
        transition(message, MessageStatus.FAILED, at=now, reason="no_number")
        report.failed += 1
    elif wait := _wait(db, message, patient, now, settings.rules):
        message.due_at, message.wait_reason = wait
        report.waiting += 1
    else:
        claim = _claim(
            db, message, patient, invitation, now, settings, claimed_at or now, names or {}
        )
    db.commit()
    return True, claim


def _wait(
    db: Session, message: Message, patient: Patient, now: datetime, rules: SendingRules
) -> tuple[datetime, str] | None:
    """When a due message may go instead of now, and why; None if it may go now."""
    if message.kind == MessageKind.REMINDER:
        first = db.scalar(
            select(Message)
            .where(
                Message.invitation_id == message.invitation_id,
                Message.kind == MessageKind.INVITATION,
                Message.status.in_(
                    (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.REVIEW)
                ),
                Message.resolved_at.is_(None),
            )
            .limit(1)
        )
        if first is not None:  # a reminder never arrives before the invitation it recalls
            return max(first.due_at, now) + timedelta(hours=1), WAITING_FOR_INVITATION
    allowed = next_allowed_time(now, patient.timezone, rules)
    if allowed > now:
        return allowed, QUIET_HOURS
    if sending_time_left(now, patient.timezone, rules) < LAST_CALL:
        return next_allowed_time(now + LAST_CALL, patient.timezone, rules), QUIET_HOURS
    if db.get_bind().dialect.name == "postgresql":
        # Two patients who share a phone are two rows: lock the number itself, so that two
        # senders never both find it under its limits (released at this claim's commit).
        db.execute(select(func.pg_advisory_xact_lock(func.hashtext(patient.phone))))
    if held := limit_wait(db, patient.id, patient.phone, patient.timezone, now, rules):
        day_starts, reason = held
        return next_allowed_time(day_starts, patient.timezone, rules), reason
    return None


def _claim(db, message, patient, invitation, now, settings, claimed_at, names) -> Claim:
    """Mark a message as being sent and mint the link it carries (in this transaction)."""
    transition(message, MessageStatus.SENDING, at=claimed_at)
    message.language = patient.language
    message.phone = patient.phone
    token = mint_link(db, invitation)
    kind = link_text_kind(
        reminder=message.kind == MessageKind.REMINDER,
        before_treatment=asks_before_treatment(invitation),
    )
    if patient.site_id not in names:
        names[patient.site_id] = chosen_sender_name(db, patient.site)
    # Never the site's own name: until the site chooses a neutral one, a neutral default.
    name = names[patient.site_id] or neutral_name(patient.language)
    link = link_url(settings.public_url, token)
    body = render(kind, patient.language, name, link)
    left = sending_time_left(claimed_at, patient.timezone, settings.rules)
    sms = OutgoingSms(
        message.id,
        patient.site_id,
        patient.phone,
        body,
        settings.status_callback(message.id),
        validity_seconds=max(1, int(left.total_seconds())),
        channel=patient.channel or "sms",
        variables={"1": name, "2": link} if patient.channel == "whatsapp" else None,
    )
    return Claim(message.id, message.attempts, sms)


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
) -> None:
    """Record a send's outcome in a transaction of its own."""
    message = db.scalar(select(Message).where(Message.id == claim.message_id).with_for_update())
    if message.attempts != claim.attempt or message.status not in (
        MessageStatus.SENDING,
        MessageStatus.REVIEW,
    ):
        # The provider's status report came first and already moved the message on.
        if result.outcome == Outcome.ACCEPTED and message.segments is None:
            message.segments = result.segments
        report.sent += result.outcome == Outcome.ACCEPTED
        db.commit()
        return
    if result.outcome == Outcome.ACCEPTED:
        message.provider_sid = result.provider_sid
        message.provider_status = (result.provider_status or "")[:32] or None
        message.segments = result.segments
        transition(message, result.status or MessageStatus.QUEUED, at=now)
        report.sent += 1
    elif result.outcome == Outcome.CHANNEL:
        # Not this message's fault: it waits, unfailed, until the channel is resumed.
        transition(
            message,
            MessageStatus.PENDING,
            at=now,
            error_code=result.error_code,
            reason=result.reason,
        )
        message.wait_reason = CHANNEL_PAUSED
        raise_alarm(
            db,
            claim.sms.site_id,
            error_code=result.error_code,
            reason=result.reason,
            now=now,
            channel=claim.sms.channel,
        )
        report.waiting += 1
    elif result.outcome == Outcome.RETRY and message.attempts < settings.max_attempts:
        message.due_at = now + settings.retry_delay(message.attempts)
        transition(
            message,
            MessageStatus.PENDING,
            at=now,
            error_code=result.error_code,
            reason=result.reason,
        )
        report.retrying += 1
    elif result.outcome in (Outcome.RETRY, Outcome.FAILED):
        reason = result.reason if result.outcome == Outcome.FAILED else "gave_up"
        transition(
            message, MessageStatus.FAILED, at=now, error_code=result.error_code, reason=reason
        )
        if result.reason == "opted_out":
            record_opt_out(db, claim.sms.to, now, source="provider")
        report.failed += 1
    else:
        transition(message, MessageStatus.REVIEW, at=now, reason=result.reason)
        report.review += 1
    db.commit()
