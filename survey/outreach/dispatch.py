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
   when quiet hours start, and its outcome recorded in one guarded statement, committed with
   the next claim (before that claim's own send), or alone when none follows. A refusal of
   the site's account or sender pauses the site's channel (`alarms`): the message waits, and
   nothing more of the site is claimed until an administrator resumes.

With `concurrency` above 1 (PostgreSQL), steps 3 and 4 run in that many threads, each with
its own connection: the row locks keep them apart as they keep two dispatchers apart.

SQLite ignores row locks: with SQLite, run a single dispatcher (it always sends one at a time).

This module runs the passes (steps 1 and 2, and the senders); claims.py takes one message
through steps 3 and 4.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import fields
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageStatus,
    WebhookReceipt,
    utcnow,
)
from survey.models.outreach import INBOUND_RECEIPT
from survey.outreach.backends import SmsBackend
from survey.outreach.claims import PassCache, claim_next, record_result, send_claim
from survey.outreach.dispatch_report import DispatchReport
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.message_status import move

# Providers retry a webhook for hours, not weeks. Receipts of status reports go after this
# long (a replayed report cannot move a message backwards); those of patients' texts stay.
RECEIPTS_KEPT = timedelta(days=7)


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
    """Claim, send and record due messages one by one until none is left or the budget is.

    A send's outcome is recorded in the transaction of the next claim, which is committed
    before that claim's own send (or alone, when no claim follows): one durable commit a
    message. A dispatcher killed meanwhile leaves only the message in flight unrecorded, as
    before; a claim that fails (a bug, a lost connection) still records the outcome alone."""
    cache = PassCache()  # each site's chosen name and each text, read once per pass
    outcome = None  # the last send's (claim, result, moment), not yet committed
    try:
        while budget.take():
            # Each claim is judged (quiet hours, limits, validity) and stamped at its own
            # moment, not the pass's start: a long pass must not send after quiet hours
            # begin, and a claim stamped with the pass's start could look stale to another
            # dispatcher's recovery.
            moment = budget.moment()
            if outcome is not None:
                record_result(db, *outcome, settings, report, commit=False)
            found, claim = claim_next(db, moment, settings, report, moment, cache)
            outcome = None  # committed with the claim
            if not found:
                return
            if claim is not None:
                outcome = (claim, send_claim(backend, claim), moment)
    except Exception:
        db.rollback()
        if outcome is not None:  # the claim that failed took this outcome's record with it
            record_result(db, *outcome, settings, DispatchReport())  # counted already
        raise
    if outcome is not None:
        record_result(db, *outcome, settings, report)


def review_stalled_sends(db: Session, now: datetime, grace: timedelta) -> int:
    """Messages a dispatcher claimed and never finished: their outcome is unknown."""
    stalled = select(Message.id).where(
        Message.status == MessageStatus.SENDING, Message.claimed_at < now - grace
    )
    return len(
        move(
            db,
            MessageStatus.REVIEW,
            where=Message.id.in_(stalled.with_for_update(skip_locked=True)),
            at=now,
            only_from=(MessageStatus.SENDING,),
            reason="dispatcher_stopped",
        )
    )


def cancel_unneeded(db: Session, now: datetime) -> int:
    """Cancel pending messages of invitations answered, cancelled or expired: one set-based
    step per reason, skipping messages a dispatcher is claiming (it deals with them)."""
    # In this order: an answered invitation that has since expired was answered.
    reasons = (
        ("completed", Invitation.status == InvitationStatus.COMPLETED),
        ("invitation_cancelled", Invitation.status == InvitationStatus.CANCELLED),
        ("expired", (Invitation.status == InvitationStatus.OPEN) & (Invitation.expires_at <= now)),
    )
    cancelled = 0
    for reason, condition in reasons:
        unneeded = (
            select(Message.id)
            .join(Invitation, Message.invitation_id == Invitation.id)
            .where(Message.status == MessageStatus.PENDING, condition)
            .limit(1000)
            .with_for_update(skip_locked=True, of=Message)
        )
        cancelled += len(
            move(
                db,
                MessageStatus.CANCELLED,
                where=Message.id.in_(unneeded),
                at=now,
                only_from=(MessageStatus.PENDING,),
                reason=reason,
            )
        )
    return cancelled
