"""The dispatcher: claim the messages that are due, send them, record what happened.

A pass runs in short transactions:
1. sends left unfinished by a dispatcher that stopped (status `sending` for longer than the
   grace period) go to review: they may have gone, so they are never resent blindly;
2. pending messages that are no longer needed are cancelled (invitation answered, expired or
   cancelled);
3. due messages are claimed one at a time with `FOR UPDATE ... SKIP LOCKED` (PostgreSQL),
   so any number of dispatchers on any number of machines never claim the same message; the
   patient and invitation rows are locked with it, so two dispatchers never count the same
   patient's limits at once (and, on PostgreSQL, an advisory lock on the number keeps two
   patients who share a phone apart). Each claim is judged at its own moment (the pass's
   clock, read just before the claim), so a slow pass never sends after quiet hours begin.
   A claimed message outside quiet hours or over the limits waits (its due time moves); one
   that may go is marked `sending`, its link is minted and that is committed **just before**
   its own provider call, so a dispatcher killed mid-pass leaves only the message in flight
   in `sending`;
4. the claimed message is rendered (in memory only) and sent with a validity period that ends
   when quiet hours start, and its outcome recorded in a transaction of its own. A refusal of
   the site's account or sender pauses the site's channel (`alarms`): the message waits, and
   nothing more of the site is claimed until an administrator resumes.

With `concurrency` above 1 (PostgreSQL), steps 3 and 4 run in that many threads, each with
its own connection: the row locks keep them apart as they keep two dispatchers apart.

SQLite ignores row locks: with SQLite, run a single dispatcher (it always sends one at a time).
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from survey.invitations import asks_before_treatment, link_url, mint_link
from survey.models import (
    ChannelAlarm,
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    WebhookReceipt,
    utcnow,
)
from survey.models.outreach import INBOUND_RECEIPT
from survey.outreach.alarms import raise_alarm
from survey.outreach.backends import (
    MAX_CONCURRENT_SENDS,
    Outcome,
    OutgoingSms,
    SendResult,
    SmsBackend,
)
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

logger = logging.getLogger("survey.outreach.dispatch")
WAITING_FOR_INVITATION = "waiting_for_invitation"
CHANNEL_PAUSED = "channel_paused"
# A text that could not reach the phone this long before quiet hours start waits for the
# morning instead: sent now, it would most likely expire on the way.
LAST_CALL = timedelta(minutes=5)
# Providers retry a webhook for hours, not weeks. Receipts of status reports go after this
# long (a replayed report cannot move a message backwards); those of patients' texts stay.
RECEIPTS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class DispatchSettings:
    public_url: str
    rules: SendingRules = SendingRules()
    max_attempts: int = 6
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=1)
    sending_grace: timedelta = timedelta(minutes=10)
    concurrency: int = 1  # messages sent at once by one dispatcher (PostgreSQL only)

    @classmethod
    def from_config(cls, config) -> "DispatchSettings":
        return cls(
            public_url=config["PUBLIC_URL"],
            rules=SendingRules.from_config(config),
            max_attempts=max(1, int(config["SMS_MAX_ATTEMPTS"])),
            retry_base=timedelta(seconds=int(config["SMS_RETRY_BASE_SECONDS"])),
            retry_max=timedelta(seconds=int(config["SMS_RETRY_MAX_SECONDS"])),
            sending_grace=timedelta(minutes=int(config["SMS_SENDING_GRACE_MINUTES"])),
            concurrency=min(max(1, int(config["SMS_DISPATCH_CONCURRENCY"])), MAX_CONCURRENT_SENDS),
        )

    def status_callback(self, message_id: int) -> str:
        return f"{self.public_url}/webhooks/twilio/status?message={message_id}"

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential backoff with a little jitter, so failed sends do not return in step."""
        delay = min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max)
        return delay * random.uniform(0.9, 1.0)  # noqa: S311 (not security)


@dataclass
class DispatchReport:
    """What one pass did, by outcome."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    review: int = 0
    waiting: int = 0
    cancelled: int = 0
    stalled: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{field.name} {getattr(self, field.name)}" for field in fields(self))

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.review


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    sms: OutgoingSms


def dispatch_due(
    db: Session,
    backend: SmsBackend,
    settings: DispatchSettings,
    now: datetime | None = None,
    limit: int = 100,
    clock: Callable[[], datetime] | None = None,
) -> DispatchReport:
    """Send what is due at `now` (at most `limit` messages examined) and report.

    Each message is judged at its own moment: `clock()`, by default `now` plus the time that
    has really passed since the pass began."""
    now = now or utcnow()
    report = DispatchReport()
    report.stalled = review_stalled_sends(db, now, settings.sending_grace)
    report.cancelled += cancel_unneeded(db, now)
    db.execute(
        delete(WebhookReceipt).where(
            WebhookReceipt.received_at < now - RECEIPTS_KEPT,
            # A patient's STOP or START replayed weeks later must still find its receipt.
            ~WebhookReceipt.key.startswith(INBOUND_RECEIPT, autoescape=True),
        )
    )
    db.commit()
    budget = Budget(limit, time.monotonic(), now, clock)
    senders = settings.concurrency if db.get_bind().dialect.name != "sqlite" else 1
    if senders == 1:
        send_due(db, backend, settings, now, budget, report)
        return report
    # Several senders, each with its own connection, claim and send in parallel: the row locks
    # that keep two dispatchers apart keep two senders apart the same way.
    engine = db.get_bind()
    reports = [DispatchReport() for _ in range(senders)]
    # The texts come from the app's catalogs: each sender thread works in the app's context.
    app = current_app._get_current_object() if has_app_context() else None

    def sender(own: DispatchReport) -> None:
        with app.app_context() if app else nullcontext(), Session(engine) as session:
            try:
                send_due(session, backend, settings, now, budget, own)
            except BaseException:
                budget.stop()  # the others finish the message in hand, then stop too
                raise

    with ThreadPoolExecutor(senders, thread_name_prefix="dispatch") as pool:
        done = [pool.submit(sender, own) for own in reports]
    for future in done:
        future.result()  # a sender's error is this pass's error, once all have stopped
    for own in reports:
        for field in fields(report):
            setattr(report, field.name, getattr(report, field.name) + getattr(own, field.name))
    return report


class Budget:
    """How many more due messages a pass may examine, shared by its senders."""

    def __init__(
        self,
        limit: int,
        started: float,
        now: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.left = limit
        self.started = started
        self.now = now or utcnow()
        self.clock = clock
        self.lock = threading.Lock()

    def moment(self) -> datetime:
        """The pass's clock now: what a claim is judged and stamped with."""
        if self.clock is not None:
            with self.lock:
                return self.clock()
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def take(self) -> bool:
        with self.lock:
            self.left -= 1
            return self.left >= 0

    def stop(self) -> None:
        with self.lock:
            self.left = 0


def send_due(
    db: Session,
    backend: SmsBackend,
    settings: DispatchSettings,
    now: datetime,
    budget: Budget,
    report: DispatchReport,
) -> None:
    """Claim, send and record due messages one by one until none is left or the budget is."""
    names: dict[int, str | None] = {}  # each site's chosen name in texts, once per pass
    while budget.take():
        # Each claim is judged (quiet hours, limits, validity) and stamped at its own moment,
        # not the pass's start: a long pass must not send after quiet hours begin, and a claim
        # stamped with the pass's start could look stale to another dispatcher's recovery.
        moment = budget.moment()
        found, claim = claim_next(db, moment, settings, report, moment, names)
        if not found:
            return
        if claim is not None:
            record_result(db, claim, _send(backend, claim), moment, settings, report)


def review_stalled_sends(db: Session, now: datetime, grace: timedelta) -> int:
    """Messages a dispatcher claimed and never finished: their outcome is unknown."""
    stalled = db.scalars(
        select(Message)
        .where(Message.status == MessageStatus.SENDING, Message.claimed_at < now - grace)
        .with_for_update(skip_locked=True)
    ).all()
    for message in stalled:
        transition(message, MessageStatus.REVIEW, at=now, reason="dispatcher_stopped")
    return len(stalled)


def cancel_unneeded(db: Session, now: datetime) -> int:
    """Cancel pending messages of invitations answered, cancelled or expired."""
    rows = db.execute(
        select(Message, Invitation)
        .join(Invitation, Message.invitation_id == Invitation.id)
        .where(
            Message.status == MessageStatus.PENDING,
            (Invitation.status != InvitationStatus.OPEN) | (Invitation.expires_at <= now),
        )
        .limit(1000)
        .with_for_update(skip_locked=True, of=Message)
    ).all()
    for message, invitation in rows:
        transition(message, MessageStatus.CANCELLED, at=now, reason=_not_needed(invitation, now))
    return len(rows)


def _not_needed(invitation: Invitation, now: datetime) -> str | None:
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
    if reason := _not_needed(invitation, now):
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


def _send(backend: SmsBackend, claim: Claim) -> SendResult:
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
