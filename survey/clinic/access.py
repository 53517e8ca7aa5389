"""Which records a member of staff may see: only those of their own sites."""

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from survey.models import Patient, User


def visible_patients(user: User) -> Select[tuple[Patient]]:
    """A query for the patients of the user's sites."""
    return select(Patient).where(Patient.site_id.in_(user.site_ids))


def patient_for(db: Session, user: User, patient_id: int) -> Patient | None:
    """The patient if the user may see them; None both when absent and when at another site,
    so that a view answers 404 alike and reveals nothing."""
    return db.scalar(visible_patients(user).where(Patient.id == patient_id))
