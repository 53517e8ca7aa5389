"""What the coordinator pages list, always within the signed-in user's sites."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from survey.clinic.access import visible_patients
from survey.models import (
    ChannelAlarm,
    Invitation,
    InvitationStatus,
    Message,
    MessageStatus,
    Patient,
    PatientStatus,
    Reply,
    User,
)
from survey.outreach.actions import NEEDS_ATTENTION

LATE = timedelta(hours=1)  # a due message this late means no dispatcher is running


@dataclass
class PatientRow:
    patient: Patient
    next_invitation: Invitation | None
    next_message: Message | None
    last_message: Message | None
    attention: int


def patient_rows(
    db: Session,
    user: User,
    now: datetime,
    *,
    search: str = "",
    status: str = "",
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[PatientRow], int]:
    """One page of the user's patients with where their follow-up stands; and the total."""
    query = visible_patients(user)
    if search:
        query = query.where(Patient.reference.contains(search[:64], autoescape=True))
    if status == "opted_out":
        query = query.where(Patient.opted_out_at.is_not(None))
    elif status in {state.value for state in PatientStatus}:
        query = query.where(Patient.status == status)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    patients = db.scalars(
        query.order_by(Patient.reference).limit(per_page).offset((page - 1) * per_page)
    ).all()
    ids = [patient.id for patient in patients]
    next_invitation = _first_by_patient(
        db.scalars(
            select(Invitation)
            .where(
                Invitation.patient_id.in_(ids),
                Invitation.status == InvitationStatus.OPEN,
                Invitation.expires_at > now,
            )
            .order_by(Invitation.opens_at, Invitation.id)  # as the clinician list chooses
        )
    )
    next_message = _first_by_patient(
        db.scalars(
            select(Message)
            .where(Message.patient_id.in_(ids), Message.status == MessageStatus.PENDING)
            .order_by(Message.due_at)
        )
    )
    last_message = _first_by_patient(
        db.scalars(
            select(Message)
            .where(Message.patient_id.in_(ids), Message.attempts > 0)
            .order_by(Message.claimed_at.desc(), Message.id.desc())
        )
    )
    attention = dict(
        db.execute(
            select(Message.patient_id, func.count())
            .where(
                Message.patient_id.in_(ids),
                Message.status.in_(NEEDS_ATTENTION),
                Message.resolved_at.is_(None),
            )
            .group_by(Message.patient_id)
        ).all()
    )
    rows = [
        PatientRow(
            patient,
            next_invitation.get(patient.id),
            next_message.get(patient.id),
            last_message.get(patient.id),
            attention.get(patient.id, 0),
        )
        for patient in patients
    ]
    return rows, total


def _first_by_patient(items) -> dict:
    first = {}
    for item in items:
        first.setdefault(item.patient_id, item)
    return first


def attention_messages(db: Session, user: User) -> list[Message]:
    """Failed, undelivered and unknown messages nobody has dealt with yet, newest first."""
    return list(
        db.scalars(
            select(Message)
            .join(Patient, Message.patient_id == Patient.id)
            .where(
                Patient.site_id.in_(user.site_ids),
                Message.status.in_(NEEDS_ATTENTION),
                Message.resolved_at.is_(None),
            )
            .order_by(Message.finished_at.desc().nulls_last(), Message.id.desc())
            .limit(500)
        )
    )


def open_replies(db: Session, user: User) -> list[Reply]:
    """Patients' free-text replies nobody has handled yet, in the user's sites, oldest first."""
    return list(
        db.scalars(
            select(Reply)
            .where(Reply.site_id.in_(user.site_ids), Reply.handled_at.is_(None))
            .order_by(Reply.received_at, Reply.id)
            .limit(500)
        )
    )


def patient_replies(db: Session, patient: Patient, limit: int = 200) -> list[Reply]:
    """A patient's free-text replies, handled or not, newest first."""
    return list(
        db.scalars(
            select(Reply)
            .where(Reply.patient_id == patient.id)
            .order_by(Reply.received_at.desc(), Reply.id.desc())
            .limit(limit)
        )
    )


def opted_out_patients(db: Session, user: User) -> list[tuple[Patient, int]]:
    """Patients in follow-up who replied STOP, with how many messages are held for them."""
    held = (
        select(func.count(Message.id))
        .where(Message.patient_id == Patient.id, Message.status == MessageStatus.PENDING)
        .correlate(Patient)
        .scalar_subquery()
    )
    return list(
        db.execute(
            visible_patients(user)
            .add_columns(held)
            .where(Patient.opted_out_at.is_not(None), Patient.status != PatientStatus.WITHDRAWN)
            .order_by(Patient.opted_out_at.desc())
        ).all()
    )


def late_messages(db: Session, user: User, now: datetime) -> int:
    """Messages that should have gone more than an hour ago and nothing holds back."""
    return db.scalar(
        select(func.count(Message.id))
        .join(Patient, Message.patient_id == Patient.id)
        .where(
            Patient.site_id.in_(user.site_ids),
            Patient.status == PatientStatus.ACTIVE,
            Patient.opted_out_at.is_(None),
            # A paused channel's messages wait on purpose: its banner says so.
            ~exists().where(
                ChannelAlarm.site_id == Patient.site_id, ChannelAlarm.channel == Patient.channel
            ),
            or_(Message.status == MessageStatus.PENDING, Message.status == MessageStatus.SENDING),
            Message.due_at < now - LATE,
        )
    )


def patient_messages(db: Session, patient: Patient) -> dict[int, list[Message]]:
    """A patient's messages grouped by invitation, in the order they were planned."""
    grouped: dict[int, list[Message]] = {}
    for message in db.scalars(
        select(Message).where(Message.patient_id == patient.id).order_by(Message.due_at, Message.id)
    ):
        grouped.setdefault(message.invitation_id, []).append(message)
    return grouped
