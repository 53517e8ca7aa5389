"""What a coordinator can do to a message: send it now, cancel it, retry or dismiss a failed
one, or send an open invitation's link again. Each returns nothing and raises ActionError
(with a plain-words reason) when the action does not apply; the caller audits and commits."""

from datetime import datetime

from sqlalchemy import select
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
from survey.outreach.i18n import lazy_gettext as _l
from survey.outreach.message_status import note, transition

NEEDS_ATTENTION = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REVIEW)


class ActionError(ValueError):
    """The action does not apply to this message now; the message says why."""


def send_now(db: Session, message: Message, user: User, now: datetime) -> None:
    """Make a waiting message due now. Quiet hours and the limits still apply at dispatch."""
    _lock(db, message)
    if message.status != MessageStatus.PENDING:
        raise ActionError(_l("Only a message that has not been sent yet can be sent now."))
    _check_can_receive(message.invitation, now)
    if message.invitation.opens_at > now:
        raise ActionError(_l("This timepoint has not opened yet; its link would not work."))
    message.due_at, message.wait_reason = now, None
    note(message, at=now, reason="send_now")


def cancel(db: Session, message: Message, user: User, now: datetime) -> None:
    """Do not send a message that has not gone yet."""
    _lock(db, message)
    if message.status != MessageStatus.PENDING:
        raise ActionError(_l("Only a message that has not been sent yet can be cancelled."))
    transition(
        message, MessageStatus.CANCELLED, at=now, reason="cancelled_by_staff", source="staff"
    )


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
    waiting = select(Message.id).where(
        Message.invitation_id == invitation.id,
        Message.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
        Message.due_at <= now,
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
