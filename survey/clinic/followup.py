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

from sqlalchemy import ColumnElement, select

from survey.models import Invitation, InvitationStatus, Patient, PatientStatus, PatientSummary
from survey.settings import settings_of

DEFAULT_GRACE = timedelta(days=7)


def grace_period(config) -> timedelta:
    """The configured grace before an unanswered invitation counts as overdue."""
    return timedelta(days=settings_of(config).overdue_grace_days)  # checked at start: >= 0


# -- SQL, for the list ---------------------------------------------------------------------------
# Next due and overdue are also kept on the patient's summary row (`survey.domain.summaries` works
# these definitions out in SQL there), so that sorting and filtering 100,000 patients by them
# read an index. Overdue does not depend on the clock once stored; next due does, through
# expiry, so a page sorted by it asks whether any stored step is stale at `now`
# (`summaries.any_stale_follow_up`) and, when one is, calls
# `summaries.refresh_stale_follow_up(now)` and reads the page again.
# The page's own rows show next due and its closing worked out here, live.


def next_due_column(now: datetime | ColumnElement) -> ColumnElement:
    """Per patient: opens_at of the earliest invitation that is open and not expired."""
    return next_due_of(Invitation.opens_at, now)


def next_closes_column(now: datetime | ColumnElement) -> ColumnElement:
    """Per patient: when the next-due invitation closes (the earliest by opening, then id)."""
    return next_due_of(Invitation.expires_at, now)


def next_due_of(column, now: datetime | ColumnElement) -> ColumnElement:
    return (
        select(column)
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


def stored_next_due_column() -> ColumnElement:
    """Per patient: next due as kept on the summary, right at `now` while no stored step is
    stale (`summaries.any_stale_follow_up(now)`, else `refresh_stale_follow_up(now)`)."""
    return PatientSummary.next_due_at


def overdue_condition(opened_by) -> ColumnElement[bool]:
    """Per patient: true when the follow-up is overdue (see the module's definition), from
    the summary's `overdue_since` (NULL for withdrawn patients). `opened_by` is now less the
    grace period (`overdue_opened_by`), a value or a bind parameter."""
    return PatientSummary.overdue_since <= opened_by


def overdue_opened_by(now: datetime, grace: timedelta) -> datetime:
    """An unanswered invitation that opened by this moment makes a patient overdue at `now`."""
    return now - grace


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
