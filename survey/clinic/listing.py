"""The patient list: one SQL query per page, whatever the number of patients.

The figures that come from answers (latest and baseline totals per instrument, last response)
are read from each patient's summary row, kept up to date in the transaction that stores
answers (`survey.summaries`) and indexed in both directions, so sorting 100,000 patients by
one reads a page of an index. Next due and overdue depend on the time of the request, so they
stay correlated subqueries over the patient's invitations. The query first chooses the page's
patients, computing only what the filters and the sort need, then computes every figure for
those patients alone (see `patient_page`). Pages are offset-based over a stable order (the
sort key, then the patient id) and fetch one row more than they show to know whether there is
a next page, so no count of all patients is needed.

Baseline and latest follow the same rules as `results.patient_course` (the tests check that
list and patient page agree; `survey/summaries.py` writes them in SQL): baseline is the
response at the `baseline` timepoint when there is one, else the earliest; latest is the most
recently submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, exists, func, or_, select
from sqlalchemy.orm import Session

from survey.clinic import followup
from survey.clinic.filters import ListFilters
from survey.clinic.results import Change
from survey.instruments import get_instrument
from survey.invitation_dates import InvitationDates
from survey.models import Message, MessageStatus, Patient, PatientSummary, Site, User

QOLAF, CCIS = "qolaf-q", "ccis"


@dataclass(frozen=True)
class PatientRow:
    """One line of the list, with the figures already computed."""

    id: int
    reference: str
    site: str
    language: str
    status: str
    timezone: str
    qolaf_latest: int | None
    qolaf_baseline: int | None
    ccis_latest: int | None
    ccis_baseline: int | None
    last_response_at: datetime | None
    next_due: datetime | None
    next_closes: datetime | None  # when the next-due invitation closes
    overdue: bool
    failed_contact: bool

    @property
    def qolaf_band(self):
        return (
            None if self.qolaf_latest is None else get_instrument(QOLAF).band_for(self.qolaf_latest)
        )

    def change(self, instrument_id: str) -> Change | None:
        """Latest against baseline; None until there are two totals to compare."""
        prefix = "qolaf" if instrument_id == QOLAF else "ccis"
        latest, baseline = getattr(self, f"{prefix}_latest"), getattr(self, f"{prefix}_baseline")
        if latest is None or baseline is None or self._single(instrument_id):
            return None
        return Change(baseline, latest, get_instrument(instrument_id).higher_is_worse)

    def next_dates(self, now: datetime) -> InvitationDates | None:
        """The next-due invitation's stage and dates, as every page describes them."""
        if self.next_due is None or self.next_closes is None:
            return None
        return InvitationDates.from_times(self.next_due, self.next_closes, self.timezone, now)

    def _single(self, instrument_id: str) -> bool:
        return instrument_id in self.single_response

    single_response: frozenset[str] = field(default=frozenset())


@dataclass
class Page:
    rows: list[PatientRow]
    number: int
    size: int
    has_next: bool

    @property
    def first_position(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last_position(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def _band_rank(total: ColumnElement) -> ColumnElement:
    """The position of a QoLAF-Q total's band (0 = least impact), from the definition's bands."""
    bands = get_instrument(QOLAF).bands
    return case(*((total <= band.max, index) for index, band in enumerate(bands)), else_=len(bands))


FAILED_CONTACT = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REVIEW)


def failed_contact_condition() -> ColumnElement[bool]:
    """Per patient: a message to them failed, was not delivered, or has an unknown outcome,
    and no coordinator has dealt with it yet (retried or dismissed it)."""
    return (
        exists()
        .where(
            Message.patient_id == Patient.id,
            Message.status.in_(FAILED_CONTACT),
            Message.resolved_at.is_(None),
        )
        .correlate(Patient)
    )


def _figures(now: datetime, grace: timedelta) -> dict[str, Callable[[], ColumnElement]]:
    """Every per-patient figure of the list, by name, built on demand. Those that come from
    answers are read from the patient's summary row, kept with the answers
    (`survey.summaries`), so sorting by them reads an index instead of every response."""
    return {
        "qolaf_latest": lambda: PatientSummary.qolaf_latest,
        "qolaf_baseline": lambda: PatientSummary.qolaf_baseline,
        "ccis_latest": lambda: PatientSummary.ccis_latest,
        "ccis_baseline": lambda: PatientSummary.ccis_baseline,
        "ccis_change": lambda: PatientSummary.ccis_change,
        "last_response_at": lambda: PatientSummary.last_response_at,
        "next_due": lambda: followup.next_due_column(now),
        "next_closes": lambda: followup.next_closes_column(now),
        "overdue": lambda: followup.overdue_condition(now, grace),
    }


# What each filter and sort needs computed for every candidate patient.
NEEDS = {
    "band": ("qolaf_latest",),
    "worsened": ("qolaf_latest", "qolaf_baseline", "ccis_latest", "ccis_baseline"),
    "overdue": ("overdue",),
    "qolaf": ("qolaf_latest",),
    "ccis": ("ccis_latest",),
    "ccis_change": ("ccis_change",),
    "last_response": ("last_response_at",),
    "next_due": ("next_due",),
}


def patient_page(
    db: Session,
    user: User,
    filters: ListFilters,
    *,
    now: datetime,
    threshold: int,
    grace: timedelta,
    page_size: int,
) -> Page:
    """One page of the user's patients, filtered and sorted as asked.

    The query works in two steps: first the page's patients are chosen, computing for every
    candidate only the figures that the filters and the sort need (nothing at all for the
    default order by reference); then every figure is computed for those patients alone."""
    figures = _figures(now, grace)
    sort = filters.sort.lstrip("-")
    needed = [
        name
        for key in (
            filters.band and "band",
            filters.worsened and "worsened",
            filters.overdue and "overdue",
            sort,
        )
        if key in NEEDS
        for name in NEEDS[key]
    ]
    candidates = (
        select(
            # The summary's copy of the id, so that "figure, then id" is exactly the order of
            # the summary's indexes and PostgreSQL reads a page from one instead of sorting.
            PatientSummary.patient_id.label("id"),
            Patient.reference.label("reference"),
            *(figures[name]().label(name) for name in dict.fromkeys(needed)),
        )
        .join(PatientSummary, PatientSummary.patient_id == Patient.id)
        .where(Patient.site_id.in_(filters.site_ids(user)))
    )
    if filters.language:
        candidates = candidates.where(Patient.language == filters.language)
    if filters.reference:
        pattern = "%" + _escape_like(filters.reference.lower()) + "%"
        candidates = candidates.where(func.lower(Patient.reference).like(pattern, escape="\\"))
    candidates = candidates.subquery("candidates")

    # Ordered by the label, so the database computes the key once per patient, not twice.
    sort_key = _sort_key(candidates, sort).label("sort_key")
    chosen = select(candidates.c.id, sort_key)
    if filters.band:
        band = next(b for b in get_instrument(QOLAF).bands if b.id == filters.band)
        chosen = chosen.where(candidates.c.qolaf_latest.between(band.min, band.max))
    if filters.overdue:
        chosen = chosen.where(candidates.c.overdue)
    if filters.worsened:
        chosen = chosen.where(
            or_(
                candidates.c.ccis_latest - candidates.c.ccis_baseline >= threshold,
                _band_rank(candidates.c.qolaf_latest) > _band_rank(candidates.c.qolaf_baseline),
            )
        )
    descending = filters.sort.startswith("-")
    chosen = (
        chosen.order_by(*_order(sort_key, descending), candidates.c.id)
        .limit(page_size + 1)
        .offset((filters.page - 1) * page_size)
        .subquery("chosen")
    )

    page = (
        select(
            Patient.id.label("id"),
            Patient.reference.label("reference"),
            Site.name.label("site"),
            Patient.language.label("language"),
            Patient.status.label("status"),
            Patient.timezone.label("timezone"),
            *(make().label(name) for name, make in figures.items()),
            PatientSummary.qolaf_single.label("qolaf_single"),
            PatientSummary.ccis_single.label("ccis_single"),
            failed_contact_condition().label("failed_contact"),
        )
        .join(chosen, chosen.c.id == Patient.id)
        .join(PatientSummary, PatientSummary.patient_id == Patient.id)
        .join(Site, Site.id == Patient.site_id)
        .order_by(*_order(chosen.c.sort_key, descending), Patient.id)
    )
    found = db.execute(page).all()
    return Page(
        rows=[_row(values) for values in found[:page_size]],
        number=filters.page,
        size=page_size,
        has_next=len(found) > page_size,
    )


def _sort_key(rows, sort: str) -> ColumnElement:
    """The column a page is ordered by; `rows` carries the figures NEEDS names for the sort."""
    return rows.c[
        {
            "reference": "reference",
            "qolaf": "qolaf_latest",
            "ccis": "ccis_latest",
            "ccis_change": "ccis_change",
            "last_response": "last_response_at",
            "next_due": "next_due",
        }[sort]
    ]


def _order(key: ColumnElement, descending: bool) -> list:
    # Patients without a figure come after those with one, whichever the direction.
    return [(key.desc() if descending else key.asc()).nulls_last()]


def _row(values) -> PatientRow:
    single = frozenset(
        instrument
        for instrument, flag in ((QOLAF, values.qolaf_single), (CCIS, values.ccis_single))
        if flag
    )
    return PatientRow(
        id=values.id,
        reference=values.reference,
        site=values.site,
        language=values.language,
        status=values.status,
        timezone=values.timezone,
        qolaf_latest=values.qolaf_latest,
        qolaf_baseline=values.qolaf_baseline,
        ccis_latest=values.ccis_latest,
        ccis_baseline=values.ccis_baseline,
        last_response_at=_aware(values.last_response_at),
        next_due=_aware(values.next_due),
        next_closes=_aware(values.next_closes),
        overdue=bool(values.overdue),
        failed_contact=bool(values.failed_contact),
        single_response=single,
    )


def _aware(moment: datetime | None) -> datetime | None:
    # A max()/min() over a UTC column loses the column type, so SQLite hands back text or naive.
    from survey.models.base import UTCDateTime

    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return UTCDateTime().process_result_value(moment, None)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
