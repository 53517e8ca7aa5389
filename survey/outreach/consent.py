"""A phone's consent to texts: STOP and START apply to every patient with that number."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.audit_trail import record
from survey.models import Patient


def record_opt_out(db: Session, phone: str, now: datetime, source: str) -> list[Patient]:
    """Every patient with this number is opted out: nothing more is sent to it."""
    changed = []
    for patient in patients_with(db, phone):
        if patient.opted_out_at is None:
            patient.opted_out_at = now
            record(db, "patient.opted_out", subject=patient, detail={"source": source})
            changed.append(patient)
    return changed


def record_opt_in(db: Session, phone: str, now: datetime, source: str) -> list[Patient]:
    """The patient texted START: messages held for them may go again."""
    changed = []
    for patient in patients_with(db, phone):
        if patient.opted_out_at is not None:
            patient.opted_out_at = None
            record(db, "patient.opted_in", subject=patient, detail={"source": source})
            changed.append(patient)
    return changed


def patients_with(db: Session, phone: str) -> list[Patient]:
    return list(
        db.scalars(
            select(Patient).where(Patient.phone == phone).order_by(Patient.id).with_for_update()
        )
    )
