"""The dispatcher: claim the messages that are due, send them, record what happened.

A pass runs in short transactions:
1. sends left unfinished by a dispatcher that stopped (status `sending` for longer than the
   grace period) go to review: they may have gone, so they are never resent blindly;
2. pending messages that are no longer needed are cancelled (invitation answered, expired or
   cancelled);
3. due messages are claimed a batch at a time (as many as the dispatcher sends at once,
   `concurrency`) with `FOR UPDATE ... SKIP LOCKED` (PostgreSQL), so any number of
   dispatchers on any number of machines never claim the same message; the patient and
   invitation rows are locked with them, so two dispatchers never count the same patient's
   limits at once (and, on PostgreSQL, advisory locks on the numbers keep two patients who
   share a phone apart). Each batch is judged at its own moment (the pass's clock, read just
   before the claim), so a slow pass never sends after quiet hours begin, and its messages in
   order, as if claimed one by one. A claimed message outside quiet hours or over the limits
   waits (its due time moves); those that may go are marked `sending`, their links minted and
   that is committed **just before** their provider calls, so a dispatcher killed mid-pass
   leaves only the batch in flight (at most `concurrency` messages) in `sending`;
4. the claimed messages are rendered (in memory only) and sent, `concurrency` at once, each
   with a validity period that ends when quiet hours start, and their outcomes recorded in
   one guarded statement for each kind of outcome, committed with the next batch's claim
   (before that batch's own sends), or alone when none follows. A refusal of the site's
   account or sender pauses the site's channel (`alarms`): the message waits, and nothing
   more of the site is claimed until an administrator resumes.

One connection claims and records; the sends of a batch overlap in `concurrency` threads,
which never touch the database.

SQLite ignores row locks: with SQLite, run a single dispatcher (it always sends one at a time).

This module runs the passes (steps 1 and 2, and the batches); claims.py takes a batch through
step 3 and sends, send_outcomes.py records step 4's outcomes.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

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
from survey.outreach.backends import SendResult, SmsBackend
from survey.outreach.claims import Claim, PassCache, claim_batch, send_claim
from survey.outreach.dispatch_report import DispatchReport
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.message_status import move
from survey.outreach.send_outcomes import record_results

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
    # A batch is as many messages as are sent at once: one claim transaction and one record of
    # outcomes for all of them, and no more in `sending` at a kill than the sends in flight.
    size = settings.concurrency if db.get_bind().dialect.name != "sqlite" else 1
    if size == 1:
        send_due(db, backend, settings, budget, report)
        return report
    with ThreadPoolExecutor(size, thread_name_prefix="dispatch") as pool:
        send_due(db, backend, settings, budget, report, pool, size)
    return report


class Budget:
    """How many more due messages a pass may examine, and the pass's clock."""

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

    def moment(self) -> datetime:
        """The pass's clock now: what a batch is judged and stamped with."""
        if self.clock is not None:
            return self.clock()
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def take(self, wanted: int) -> int:
        """How many of `wanted` messages the pass may still examine (taken from the budget)."""
        taken = max(0, min(wanted, self.left))
        self.left -= taken
        return taken


def send_due(
    db: Session,
    backend: SmsBackend,
    settings: DispatchSettings,
    budget: Budget,
    report: DispatchReport,
    pool: ThreadPoolExecutor | None = None,
    size: int = 1,
) -> None:
    """Claim, send and record due messages a batch of `size` at a time (sent in `pool`'s
    threads) until none is left or the budget is.

    A batch's outcomes are recorded in the transaction of the next batch's claim, which is
    committed before that batch's own sends (or alone, when no claim follows): one durable
    commit a batch. A dispatcher killed meanwhile leaves only the batch in flight unrecorded;
    a claim that fails (a bug, a lost connection) still records the outcomes alone."""
    cache = PassCache()  # each site's chosen name and each text, read once per pass
    sent, at = [], None  # the last batch's outcomes, not yet committed, and its moment
    try:
        while wanted := budget.take(size):
            # Each batch is judged (quiet hours, limits, validity) and stamped at its own
            # moment, not the pass's start: a long pass must not send after quiet hours
            # begin, and a claim stamped with the pass's start could look stale to another
            # dispatcher's recovery.
            moment = budget.moment()
            if sent:
                record_results(db, sent, at, settings, report, commit=False)
            found, claims = claim_batch(db, moment, wanted, settings, report, cache)
            sent = []  # committed with the claim
            if not found:
                return
            at = moment
            sent = send_all(db, backend, claims, pool, at, settings, report)
    except Exception:
        db.rollback()
        if sent:  # the claim that failed took these outcomes' record with it
            record_results(db, sent, at, settings, DispatchReport())  # counted already
        raise
    if sent:
        record_results(db, sent, at, settings, report)


def send_all(db, backend, claims, pool, at, settings, report) -> list[tuple[Claim, SendResult]]:
    """Send a batch's claims, overlapped in `pool` (one by one without): their outcomes.

    A send that raised anything but an Exception (a stop, from inside) stops the pass once the
    others have answered, their outcomes recorded and the one that raised left in `sending`."""
    if pool is None:
        return [(claim, send_claim(backend, claim)) for claim in claims]
    sends = [pool.submit(send_claim, backend, claim) for claim in claims]
    wait(sends)
    stopped = next((send.exception() for send in sends if send.exception()), None)
    answered = [
        (claim, send.result())
        for claim, send in zip(claims, sends, strict=True)
        if send.exception() is None
    ]
    if stopped is not None:
        record_results(db, answered, at, settings, report)
        raise stopped
    return answered


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
