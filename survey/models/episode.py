"""Episodes of care: each index date a patient is followed from, with its own schedule."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.patient import Patient


class Episode(Base):
    """One course of treatment a patient is followed after (a seton, then a definitive
    repair; a recurrence): its index date and schedule. Timepoints count from the episode's
    index date, and baseline, previous and best are read within the episode.

    The patient's own `index_date` and `schedule` are those of their current (latest)
    episode; invitations, and through them responses, belong to the episode they were made
    for. Numbered from 1 per patient, in the order they were started."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("patient_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    index_date: Mapped[date | None]
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    # A short name for staff ("Seton", "Definitive repair", or their own words); no health
    # detail is needed, and it is never sent to the patient.
    label: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship(back_populates="episodes")
    schedule: Mapped["Schedule | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Episode {self.number} of patient {self.patient_id}>"
