"""Each patient's headline figures, kept with their answers so the list can sort by them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base


class PatientSummary(Base):
    """The latest and baseline totals per questionnaire and the last answer time of one
    patient, written in the same transaction as every stored response
    (`survey.summaries.refresh_summary`), so they can never disagree with the answers.

    They exist for speed alone: sorting 100,000 patients by a figure worked out per patient
    reads every patient's responses, while an index on a stored figure reads one page."""

    __tablename__ = "patient_summaries"
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    qolaf_latest: Mapped[int | None]
    qolaf_baseline: Mapped[int | None]
    ccis_latest: Mapped[int | None]
    ccis_baseline: Mapped[int | None]
    # Latest minus baseline; stored (not computed in the query) so that it can be indexed.
    ccis_change: Mapped[int | None]
    # True when the latest response is the baseline one: there is no change to show yet.
    qolaf_single: Mapped[bool | None]
    ccis_single: Mapped[bool | None]
    last_response_at: Mapped[datetime | None]


# Both directions, each with patients without a figure last, then by patient: exactly the
# list's orders, so a page sorted by a figure is read from an index and never sorted.
SORTED_BY = ("qolaf_latest", "ccis_latest", "ccis_change", "last_response_at")
for _name in SORTED_BY:
    _column = getattr(PatientSummary, _name)
    Index(f"ix_patient_summaries_{_name}", _column, PatientSummary.patient_id)
    # SQLite cannot declare NULLS LAST in an index, and serves only tests and demos.
    Index(
        f"ix_patient_summaries_{_name}_desc", _column.desc().nulls_last(), PatientSummary.patient_id
    ).ddl_if(dialect="postgresql")
