"""Where a patient's follow-up stands: the next timepoint due, and whether one is overdue.

Defined once, in words, in SQL (for the patient list) and in Python (for the patient page);
the tests check that the two agree.

- **Next due**: the earliest invitation (by opening time, then id) that is still open and has
  not expired. Pages describe it with `survey.domain.invitation_dates`: "opens ...,
  closes ..." before its window, "open until ..." during it, on the patient's clock. The list
  sorts by its opening time.
- **Overdue**: an invitation opened more than `OVERDUE_GRACE_DAYS` ago (default 7) is still
  unanswered (status open: inside its window or expired) and no later timepoint has been
  completed since. A missed timepoint followed by an answered one is shown as missed on the
  patient's timeline, not as overdue. Withdrawn patients are never overdue.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import aliased

from survey.models import Invitation, InvitationStatus, Patient, PatientStatus

DEFAULT_GRACE = timedelta(days=7)


def grace_period(config) -> timedelta:
    """The configured grace before an unanswered invitation counts as overdue."""
    days = int(config.get("OVERDUE_GRACE_DAYS", DEFAULT_GRACE.days))
    if days < 0:
        raise ValueError("OVERDUE_GRACE_DAYS cannot be negative")
    return timedelta(days=days)


# -- SQL, for the list ---------------------------------------------------------------------------


def next_due_column(now: datetime) -> ColumnElement:
    """Per patient: opens_at of the earliest invitation that is open and not expired."""
    return (
        select(func.min(Invitation.opens_at))
        .where(
            Invitation.patient_id == Patient.id,
            Invitation.status == InvitationStatus.OPEN,
            Invitation.expires_at > now,
        )
        .correlate(Patient)
        .scalar_subquery()
    )


def next_closes_column(now: datetime) -> ColumnElement:
    """Per patient: when the next-due invitation closes (the earliest by opening, then id)."""
    return (
        select(Invitation.expires_at)
        .where(
            Invitation.patient_id == Patient.id,
            Invitation.status == InvitationStatus.OPEN,
            Invitation.expires_at > now,
        )
        .order_by(Invitation.opens_at, Invitation.id)
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )


def overdue_condition(now: datetime, grace: timedelta) -> ColumnElement[bool]:
    """Per patient: true when the follow-up is overdue (see the module's definition)."""
    later = aliased(Invitation)
    later_completed = exists().where(
        later.patient_id == Invitation.patient_id,
        later.status == InvitationStatus.COMPLETED,
        later.opens_at > Invitation.opens_at,
    )
    unanswered = (
        exists()
        .where(
            Invitation.patient_id == Patient.id,
            Invitation.status == InvitationStatus.OPEN,
            Invitation.opens_at <= now - grace,
            ~later_completed,
        )
        .correlate(Patient)
    )
    return and_(Patient.status != PatientStatus.WITHDRAWN, unanswered)


# -- Python, for one patient ---------------------------------------------------------------------


def next_invitation(invitations: Iterable[Invitation], now: datetime) -> Invitation | None:
    """The invitation that is next due among one patient's (see the module's definition)."""
    return min(
        (
            invitation
            for invitation in invitations
            if invitation.status == InvitationStatus.OPEN and invitation.expires_at > now
        ),
        key=lambda invitation: (invitation.opens_at, invitation.id),
        default=None,
    )


def next_due(invitations: Iterable[Invitation], now: datetime) -> datetime | None:
    """The next-due time of one patient's invitations (see the module's definition)."""
    invitation = next_invitation(invitations, now)
    return invitation.opens_at if invitation else None


def overdue_invitation(
    patient: Patient, invitations: Iterable[Invitation], now: datetime, grace: timedelta
) -> Invitation | None:
    """The earliest invitation that makes the patient overdue, or None."""
    if patient.status == PatientStatus.WITHDRAWN:
        return None
    invitations = sorted(invitations, key=lambda invitation: (invitation.opens_at, invitation.id))
    for invitation in invitations:
        if invitation.status != InvitationStatus.OPEN or invitation.opens_at > now - grace:
            continue
        if not any(
            later.status == InvitationStatus.COMPLETED and later.opens_at > invitation.opens_at
            for later in invitations
        ):
            return invitation
    return None
