"""The one place a message changes status: which steps are allowed, the event each leaves in
the message's history, and the timestamps that go with it.

The dispatcher, the provider's status reports and coordinators all move messages through
`transition`; a step the table does not allow raises `InvalidTransition` (a bug, or a late
report the caller should have ignored), so no writer can keep its own bookkeeping.
"""

from datetime import datetime

from sqlalchemy.orm import object_session

from survey.models import Message, MessageEvent, MessageStatus

S = MessageStatus
PROVIDER_REPORTS = (S.QUEUED, S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED)
ALLOWED: dict[MessageStatus, frozenset[MessageStatus]] = {
    # Claimed; cancelled (not needed, by staff); failed before any send (no number).
    S.PENDING: frozenset({S.SENDING, S.CANCELLED, S.FAILED}),
    # The provider's answer; back to pending to retry (or while the channel is paused);
    # review when nobody can tell whether it went.
    S.SENDING: frozenset({*PROVIDER_REPORTS, S.PENDING, S.REVIEW}),
    # An unknown outcome learns its fate from a late answer or status report.
    S.REVIEW: frozenset({*PROVIDER_REPORTS, S.PENDING}),
    S.QUEUED: frozenset({S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.UNDELIVERED: frozenset(),
    S.FAILED: frozenset(),
    # A coordinator's cancel is undone while nothing of the invitation has gone.
    S.CANCELLED: frozenset({S.PENDING}),
}
FINAL = frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED, S.CANCELLED})


class InvalidTransition(ValueError):
    """A status change the message's life does not allow."""


def can_move(message: Message, to: MessageStatus) -> bool:
    return to in ALLOWED[MessageStatus(message.status)]


def transition(
    message: Message,
    to: MessageStatus,
    *,
    at: datetime,
    reason: str | None = None,
    source: str = "dispatcher",
    error_code: int | None = None,
) -> None:
    """Move `message` to `to` at `at`, noting the step in its history."""
    before = MessageStatus(message.status)
    if to not in ALLOWED[before]:
        raise InvalidTransition(f"message {message.id}: {before} -> {to}")
    message.status = to
    message.error_code = error_code
    message.reason = reason
    if to == S.SENDING:
        message.attempts = (message.attempts or 0) + 1
        message.claimed_at = message.sent_at = at
    if to != S.PENDING or before == S.CANCELLED:
        message.wait_reason = None
    if to == S.PENDING or (
        to == S.FAILED and before in (S.SENDING, S.REVIEW) and source != "provider"
    ):
        message.sent_at = None  # it did not go: it does not count towards the limits
    if to in FINAL:
        message.finished_at = at
    elif before in FINAL:
        message.finished_at = None
    _event(message, at, to, source, error_code=error_code, reason=reason)


def note(
    message: Message,
    *,
    at: datetime,
    reason: str,
    source: str = "staff",
    status: str | None = None,
    error_code: int | None = None,
) -> None:
    """A step in a message's history that does not change its status (a coordinator's
    "send now", a report about another copy of it)."""
    _event(message, at, status or message.status, source, error_code=error_code, reason=reason)


def _event(message, at, status, source, *, error_code=None, reason=None) -> None:
    event = MessageEvent(
        message=message,
        occurred_at=at,
        status=str(status)[:16],
        source=source,
        error_code=error_code,
        reason=reason,
    )
    session = object_session(message)
    if session is not None:
        session.add(event)
