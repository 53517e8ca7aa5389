"""What a coordinator can do to a message: send it now, cancel it (an invitation with its
reminders) or undo that while nothing has gone, retry or dismiss a failed one, or send an
open invitation's link again. Each returns nothing and raises ActionError
(with a plain-words reason) when the action does not apply; the caller audits and commits."""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    PatientStatus,
    User,
)
from survey.outreach.message_status import note, transition
from survey.translatable import lazy_gettext as _l

NEEDS_ATTENTION = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REVIEW)
WITH_INVITATION = "cancelled_with_invitation"


class ActionError(ValueError):
    """The action does not apply to this message now; the message says why."""


def send_now_refusal(db: Session, message: Message, now: datetime):
    """Why "Send now" makes no sense for this message now, or None if it does."""
    if message.status != MessageStatus.PENDING:
        return _l("Only a message that has not been sent yet can be sent now.")
    if message.invitation.opens_at > now:
        return _l("This timepoint has not opened yet; its link would not work.")
    if message.kind == MessageKind.REMINDER and _invitation_not_gone(db, message):
        return _l("A reminder cannot go before the invitation it recalls.")
    return None


def offers_send_now(db: Session, message: Message, now: datetime) -> bool:
    """Whether to offer "Send now": it makes sense, and the message is not due already."""
    waiting = message.due_at > now or message.wait_reason is not None
    return waiting and send_now_refusal(db, message, now) is None


def send_now(db: Session, message: Message, user: User, now: datetime) -> None:
    """Make a waiting message due now. Quiet hours and the limits still apply at dispatch."""
    _lock(db, message)
    _check_can_receive(message.invitation, now)
    if refusal := send_now_refusal(db, message, now):
        raise ActionError(refusal)
    message.due_at, message.wait_reason = now, None
    note(message, at=now, reason="send_now")


def cancel(db: Session, message: Message, user: User, now: datetime) -> None:
    """Do not send a message that has not gone yet. Cancelling an invitation's message
    cancels its pending reminders too: a reminder of a text never sent makes no sense."""
    _lock(db, message)
    if message.status != MessageStatus.PENDING:
        raise ActionError(_l("Only a message that has not been sent yet can be cancelled."))
    transition(
        message, MessageStatus.CANCELLED, at=now, reason="cancelled_by_staff", source="staff"
    )
    if message.kind == MessageKind.INVITATION:
        for reminder in pending_reminders(db, message, lock=True):
            transition(
                reminder,
                MessageStatus.CANCELLED,
                at=now,
                reason=WITH_INVITATION,
                source="staff",
            )


def pending_reminders(db: Session, message: Message, lock: bool = False) -> list[Message]:
    """The reminders of this message's invitation that have not gone yet."""
    query = select(Message).where(
        Message.invitation_id == message.invitation_id,
        Message.kind == MessageKind.REMINDER,
        Message.status == MessageStatus.PENDING,
    )
    return list(db.scalars(query.with_for_update() if lock else query))


def can_undo_cancel(db: Session, message: Message, now: datetime) -> bool:
    """Whether a coordinator's cancel can still be undone: nothing of the invitation has
    gone since, and it is still open."""
    invitation = message.invitation
    if message.status != MessageStatus.CANCELLED or message.reason != "cancelled_by_staff":
        return False
    if invitation.status != InvitationStatus.OPEN or invitation.is_expired(now):
        return False
    attempted = select(Message.id).where(
        Message.invitation_id == invitation.id, Message.attempts > 0
    )
    return db.scalar(attempted.limit(1)) is None


def undo_cancel(db: Session, message: Message, user: User, now: datetime) -> None:
    """Schedule again a message a coordinator cancelled (and the reminders cancelled with
    it), while nothing of the invitation has been sent."""
    _lock(db, message)
    if not can_undo_cancel(db, message, now):
        raise ActionError(_l("This cancellation can no longer be undone."))
    _check_can_receive(message.invitation, now)
    again = [message]
    if message.kind == MessageKind.INVITATION:
        again += db.scalars(
            select(Message)
            .where(
                Message.invitation_id == message.invitation_id,
                Message.status == MessageStatus.CANCELLED,
                Message.reason == WITH_INVITATION,
            )
            .with_for_update()
        ).all()
    for each in again:
        transition(each, MessageStatus.PENDING, at=now, reason="undone", source="staff")


def retry(db: Session, message: Message, user: User, now: datetime) -> Message:
    """Send a failed, undelivered or unknown message again, as a new message due now."""
    _lock(db, message)
    _check_unresolved(message)
    _check_can_receive(message.invitation, now)
    message.resolved_at, message.resolved_by_id, message.resolution = now, user.id, "retried"
    again = Message(
        patient_id=message.patient_id,
        invitation_id=message.invitation_id,
        kind=message.kind,
        due_at=now,
        created_by_id=user.id,
        retry_of_id=message.id,
    )
    db.add(again)
    note(message, at=now, reason="retried")
    return again


def dismiss(db: Session, message: Message, user: User, now: datetime) -> None:
    """Take a failed or unknown message off the attention list without sending it again."""
    _lock(db, message)
    _check_unresolved(message)
    message.resolved_at, message.resolved_by_id, message.resolution = now, user.id, "dismissed"
    note(message, at=now, reason="dismissed")


def resend_link(db: Session, invitation: Invitation, user: User, now: datetime) -> Message:
    """Send an open invitation's link again (for a patient who lost the text)."""
    # Locked, so that the same button pressed twice at once sends one message, not two: the
    # second request waits here and then finds the first one's message on its way.
    db.refresh(invitation, with_for_update=True)
    _check_can_receive(invitation, now)
    if invitation.opens_at > now:
        raise ActionError(_l("This timepoint has not opened yet; its link would not work."))
    # Any link waiting to go counts, whatever its due time: the request that locked first
    # may have read the clock after this one did, so its message can be "due" a moment after
    # this request's `now`.
    waiting = select(Message.id).where(
        Message.invitation_id == invitation.id,
        Message.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
        or_(Message.kind == MessageKind.INVITATION, Message.due_at <= now),
    )
    if db.scalar(waiting.limit(1)) is not None:
        raise ActionError(_l("A message for this timepoint is already on its way."))
    message = Message(
        patient_id=invitation.patient_id,
        invitation=invitation,
        kind=MessageKind.INVITATION,
        due_at=now,
        created_by_id=user.id,
    )
    db.add(message)
    return message


def _invitation_not_gone(db: Session, message: Message) -> bool:
    first = select(Message.id).where(
        Message.invitation_id == message.invitation_id,
        Message.kind == MessageKind.INVITATION,
        Message.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
    )
    return db.scalar(first.limit(1)) is not None


def _lock(db: Session, message: Message) -> None:
    """Re-read the message under a row lock: a dispatcher may have claimed it, or a status
    report moved it, since the page was shown."""
    db.refresh(message, with_for_update=True)


def _check_unresolved(message: Message) -> None:
    if message.status not in NEEDS_ATTENTION:
        raise ActionError(
            _l("Only a failed, undelivered or unconfirmed message can be retried or dismissed.")
        )
    if message.resolved_at is not None:
        raise ActionError(_l("Someone has already dealt with this message."))


def _check_can_receive(invitation: Invitation, now: datetime) -> None:
    patient = invitation.patient
    if patient.status == PatientStatus.WITHDRAWN:
        raise ActionError(_l("This patient has withdrawn from follow-up."))
    if patient.opted_out:
        raise ActionError(
            _l("This patient replied STOP. Nothing can be sent until they reply START.")
        )
    if invitation.status != InvitationStatus.OPEN or invitation.is_expired(now):
        raise ActionError(_l("This timepoint is closed (answered, expired or cancelled)."))
