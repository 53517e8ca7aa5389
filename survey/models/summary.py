"""Each patient's headline figures, kept with their answers so the list can sort by them."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base


class PatientSummary(Base):
    """The latest, baseline, previous and best totals per questionnaire and the last answer
    time of one patient, written in the same transaction as every stored response
    (`survey.domain.summaries.refresh_summary`), so they can never disagree with the answers.

    They exist for speed alone: sorting 100,000 patients by a figure worked out per patient
    reads every patient's responses, while an index on a stored figure reads one page."""

    __tablename__ = "patient_summaries"
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    # Per questionnaire: the latest total; baseline (the `baseline` timepoint, else the
    # earliest); the answers just before the latest; the best before the latest (in the
    # instrument's declared direction); the changes of the latest against baseline and
    # previous (stored, not computed in the query, so that they can be indexed); whether the
    # latest response is the only one (no change to show yet); and whether the latest,
    # baseline and previous answers were given to provisional wording.
    qolaf_latest: Mapped[int | None]
    qolaf_baseline: Mapped[int | None]
    qolaf_previous: Mapped[int | None]
    qolaf_best: Mapped[int | None]
    qolaf_change: Mapped[int | None]
    qolaf_change_previous: Mapped[int | None]
    qolaf_single: Mapped[bool | None]
    qolaf_provisional: Mapped[bool | None]
    qolaf_baseline_provisional: Mapped[bool | None]
    qolaf_previous_provisional: Mapped[bool | None]
    ccis_latest: Mapped[int | None]
    ccis_baseline: Mapped[int | None]
    ccis_previous: Mapped[int | None]
    ccis_best: Mapped[int | None]
    ccis_change: Mapped[int | None]
    ccis_change_previous: Mapped[int | None]
    ccis_single: Mapped[bool | None]
    ccis_provisional: Mapped[bool | None]
    ccis_baseline_provisional: Mapped[bool | None]
    ccis_previous_provisional: Mapped[bool | None]
    last_response_at: Mapped[datetime | None]
    # Where the follow-up stands (`survey.domain.summaries.follow_up_figures`), kept where the
    # patient's invitations or status change. Next due depends on the clock only through
    # expiry, so what is kept is one step of it: the next-due invitation's opening and
    # closing (`next_due_at`, `next_closes_at`) hold from `next_due_from` until it closes
    # (NULL: open-ended), and the list moves a row to its next step once the clock has
    # left it (`survey.domain.summaries.refresh_stale_follow_up`). `overdue_since` is the opening
    # of the earliest open invitation not followed by a completed one (NULL when there is
    # none or the patient is withdrawn): overdue is `overdue_since <= now - grace`.
    next_due_at: Mapped[datetime | None]
    next_closes_at: Mapped[datetime | None]
    next_due_from: Mapped[datetime | None]
    overdue_since: Mapped[datetime | None]
    # When the patient will have missed two timepoints (the second of their open invitations
    # to close, each counted from its opening or closing, whichever is later; NULL: fewer than
    # two open): the completion analytics count `second_missed_at <= now`.
    second_missed_at: Mapped[datetime | None]
    # What the analytics' counts hold for it ([site, UTC day of `second_missed_at`]; NULL:
    # nothing): what a change takes back (`survey.domain.completion_counts.recount_patients`).
    missed_two_counted: Mapped[list | None] = mapped_column(JSON)


# Both directions, each with patients without a figure last, then by patient: exactly the
# list's orders, so a page sorted by a figure is read from an index and never sorted.
SORTED_BY = (
    "qolaf_latest",
    "ccis_latest",
    "ccis_change",
    "last_response_at",
    "qolaf_change",
    "qolaf_change_previous",
    "ccis_change_previous",
    "next_due_at",
)
for _name in SORTED_BY:
    _column = getattr(PatientSummary, _name)
    Index(f"ix_patient_summaries_{_name}", _column, PatientSummary.patient_id)
    # SQLite cannot declare NULLS LAST in an index, and serves only tests and demos.
    Index(
        f"ix_patient_summaries_{_name}_desc", _column.desc().nulls_last(), PatientSummary.patient_id
    ).ddl_if(dialect="postgresql")
# Finding the rows whose step of next due the clock has left, and the overdue filter.
Index("ix_patient_summaries_next_closes_at", PatientSummary.next_closes_at)
Index("ix_patient_summaries_next_due_from", PatientSummary.next_due_from)
Index("ix_patient_summaries_second_missed_at", PatientSummary.second_missed_at)
Index("ix_patient_summaries_overdue_since", PatientSummary.overdue_since, PatientSummary.patient_id)
