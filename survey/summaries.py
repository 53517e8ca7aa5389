"""Keeping each patient's summary row (`PatientSummary`) equal to their stored responses.

Baseline is the response at the `baseline` timepoint, else the earliest; latest is the most
recently submitted (the rules of `clinic.results.patient_course`; the tests check they agree).
The figures are worked out again from the responses each time, never adjusted step by step,
so a summary is right whatever order answers arrive in.
"""

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from survey.models import Invitation, PatientSummary, Response

QOLAF, CCIS = "qolaf-q", "ccis"
BASELINE_TIMEPOINT = "baseline"
OWNER = PatientSummary.patient_id


def latest(instrument_id: str, column=Response.total, owner=OWNER) -> ColumnElement:
    """Per patient (`owner` is their id column): `column` of the most recent response."""
    return (
        select(column)
        .where(Response.patient_id == owner, Response.instrument_id == instrument_id)
        .order_by(Response.submitted_at.desc(), Response.id.desc())
        .limit(1)
        .correlate(owner.table)
        .scalar_subquery()
    )


def baseline(instrument_id: str, column=Response.total, owner=OWNER) -> ColumnElement:
    """Per patient: `column` of the baseline response (at the `baseline` timepoint, else the
    earliest). COALESCE only looks for the earliest when there is no baseline timepoint."""
    at_baseline = (
        select(column)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(
            Invitation.patient_id == owner,
            Invitation.timepoint == BASELINE_TIMEPOINT,
            Response.instrument_id == instrument_id,
        )
        .order_by(Response.submitted_at, Response.id)
        .limit(1)
        .correlate(owner.table)
        .scalar_subquery()
    )
    earliest = (
        select(column)
        .where(Response.patient_id == owner, Response.instrument_id == instrument_id)
        .order_by(Response.submitted_at, Response.id)
        .limit(1)
        .correlate(owner.table)
        .scalar_subquery()
    )
    return func.coalesce(at_baseline, earliest)


def figures() -> dict[str, ColumnElement]:
    """Every summary column, as worked out from the patient's responses."""
    return {
        "qolaf_latest": latest(QOLAF),
        "qolaf_baseline": baseline(QOLAF),
        "ccis_latest": latest(CCIS),
        "ccis_baseline": baseline(CCIS),
        "ccis_change": latest(CCIS) - baseline(CCIS),
        "qolaf_single": latest(QOLAF, Response.id) == baseline(QOLAF, Response.id),
        "ccis_single": latest(CCIS, Response.id) == baseline(CCIS, Response.id),
        "last_response_at": (
            select(func.max(Response.submitted_at))
            .where(Response.patient_id == OWNER)
            .correlate(PatientSummary.__table__)
            .scalar_subquery()
        ),
    }


def refresh_summary(db: Session, patient_id: int) -> None:
    """Work out one patient's summary again, in the caller's transaction (after a response
    is added). The row is locked first, so two answers stored at once for one patient are
    counted one after the other, each seeing the other's committed response."""
    db.flush()
    db.execute(
        select(PatientSummary.patient_id)
        .where(PatientSummary.patient_id == patient_id)
        .with_for_update()
    )
    db.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id == patient_id)
        .values(**figures())
        .execution_options(synchronize_session=False)
    )


def refresh_summaries(db: Session, first_id: int, last_id: int) -> None:
    """Work out the summaries of a range of patients again (bulk-written benchmark data)."""
    db.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id.between(first_id, last_id))
        .values(**figures())
        .execution_options(synchronize_session=False)
    )
