"""Planning a patient's invitations and their messages from a schedule, and cancelling
the messages not sent yet.

Everything here happens in the caller's transaction (a transactional outbox): a planned
message is a `Message` row the dispatcher sends once it is committed, and a cancelled one
changes status through `message_status.transition`, like every other change of status.

An invitation is *untouched* while nothing of it has reached the patient: still open, not
started, and none of its messages handed to the provider. Only untouched invitations move
when the index date, time zone or schedule changes; the others keep the dates the patient was
given.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from survey.domain.episodes import current_episode
from survey.domain.invitations import create_invitation
from survey.localtime import add_local_days
from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    Patient,
    Timepoint,
    utcnow,
)
from survey.outreach.message_status import transition
from survey.outreach.policy import SendingRules, at_local


@dataclass
class ScheduleChanges:
    """What a change did to the patient's invitations, by timepoint label."""

    created: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # windows already over: not scheduled


def sync_invitations(
    db: Session, patient: Patient, now: datetime, rules: SendingRules
) -> ScheduleChanges:
    """Make the untouched invitations of the patient's current episode match their schedule,
    index date and zone (earlier episodes' invitations are left as they are)."""
    changes = ScheduleChanges()
    episode = current_episode(db, patient)
    scheduled = {
        invitation.timepoint_id: invitation
        for invitation in db.scalars(
            select(Invitation)
            .where(
                Invitation.patient_id == patient.id,
                Invitation.episode_id == episode.id,
                Invitation.timepoint_id.is_not(None),
                Invitation.status != InvitationStatus.CANCELLED,
            )
            # Locked, so no dispatcher claims their messages while they move (it skips them).
            .with_for_update()
        )
    }
    timepoints = patient.schedule.timepoints if patient.schedule and patient.index_date else []
    for timepoint in timepoints:
        invitation = scheduled.pop(timepoint.id, None)
        if invitation is not None and touched(db, invitation):
            continue
        opens_at, expires_at = timepoint_window(patient, timepoint, rules)
        if expires_at <= now:
            if invitation is not None:
                cancel_invitation(db, invitation, "window_closed")
            changes.closed.append(timepoint.label)
        elif invitation is None:
            invitation = create_invitation(
                db,
                patient,
                timepoint.label,
                timepoint.instrument_ids,
                opens_at,
                timepoint.window_days,
            )
            # The window's own closing time: the same as counting days from the opening,
            # unless the opening fell in a daylight-saving gap and was moved.
            invitation.timepoint_id, invitation.expires_at = timepoint.id, expires_at
            plan_messages(db, invitation, timepoint, now)
            changes.created.append(timepoint.label)
        elif (invitation.opens_at, invitation.expires_at) != (opens_at, expires_at):
            invitation.opens_at, invitation.expires_at = opens_at, expires_at
            _forget_unsent(db, invitation)
            plan_messages(db, invitation, timepoint, now)
            changes.moved.append(timepoint.label)
    for invitation in scheduled.values():  # timepoints the patient's schedule no longer has
        if not touched(db, invitation):
            cancel_invitation(db, invitation, "schedule_changed")
            changes.cancelled.append(invitation.timepoint)
    return changes


def timepoint_window(
    patient: Patient, timepoint: Timepoint, rules: SendingRules
) -> tuple[datetime, datetime]:
    """When a timepoint opens and closes for a patient: at the start of the sending hours on
    the patient's clock, on the timepoint's day and `window_days` calendar days later (see
    `survey.localtime`: a daylight-saving change in between moves neither)."""
    opens_on = patient.index_date + timedelta(days=timepoint.offset_days)
    closes_on = opens_on + timedelta(days=timepoint.window_days)
    return (
        at_local(opens_on, rules.send_from, patient.timezone),
        at_local(closes_on, rules.send_from, patient.timezone),
    )


def plan_messages(db: Session, invitation: Invitation, timepoint: Timepoint, now: datetime):
    """The invitation's message, due when it opens (or now, if it is open already), and its
    reminders, that many calendar days later at the same time on the patient's clock, dropped
    if they would fall after the window closes."""
    first = max(invitation.opens_at, now)
    zone = invitation.patient.timezone
    planned = [(MessageKind.INVITATION, first)]
    for days in timepoint.reminder_days:
        due_at = add_local_days(first, days, zone)
        if due_at < invitation.expires_at:
            planned.append((MessageKind.REMINDER, due_at))
    for kind, due_at in planned:
        db.add(Message(patient=invitation.patient, invitation=invitation, kind=kind, due_at=due_at))


def _forget_unsent(db: Session, invitation: Invitation) -> None:
    """Remove the messages of an untouched invitation, to plan them again: none of them
    ever left, and the edit that moved them is in the audit trail."""
    unsent = select(Message.id).where(Message.invitation_id == invitation.id)
    db.execute(delete(MessageEvent).where(MessageEvent.message_id.in_(unsent)))
    db.execute(delete(Message).where(Message.invitation_id == invitation.id))


def touched(db: Session, invitation: Invitation) -> bool:
    """Whether anything of the invitation has reached the patient (see the module doc)."""
    if invitation.status != InvitationStatus.OPEN or invitation.started_at is not None:
        return True
    attempted = select(Message.id).where(
        Message.invitation_id == invitation.id, Message.attempts > 0
    )
    return db.scalar(attempted.limit(1)) is not None


def cancel_invitation(
    db: Session, invitation: Invitation, reason: str, now: datetime | None = None
) -> None:
    """Close an invitation and cancel the messages it has not sent yet."""
    invitation.status = InvitationStatus.CANCELLED
    cancel_pending(db, reason, invitation_id=invitation.id, now=now)


def cancel_pending(
    db: Session,
    reason: str,
    *,
    invitation_id=None,
    patient_id=None,
    now: datetime | None = None,
    source: str = "staff",
) -> int:
    """Cancel the pending messages of an invitation or a patient; returns how many."""
    # Locked: a message a dispatcher is claiming right now is left to the dispatcher.
    query = select(Message).where(Message.status == MessageStatus.PENDING).with_for_update()
    if invitation_id is not None:
        query = query.where(Message.invitation_id == invitation_id)
    if patient_id is not None:
        query = query.where(Message.patient_id == patient_id)
    messages = db.scalars(query).all()
    for message in messages:
        transition(
            message, MessageStatus.CANCELLED, at=now or utcnow(), reason=reason, source=source
        )
    return len(messages)


def pending_messages(db: Session, patient: Patient) -> int:
    """How many of the patient's messages are waiting to be sent."""
    return db.scalar(
        select(func.count(Message.id)).where(
            Message.patient_id == patient.id, Message.status == MessageStatus.PENDING
        )
    )
