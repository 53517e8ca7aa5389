"""The patient list: one SQL query per page (two sorted by next due), however many patients.

The figures that come from answers (latest and baseline totals per instrument, last response)
are read from each patient's summary row, kept up to date in the transaction that stores
answers (`survey.domain.summaries`) and indexed in both directions, so sorting 100,000 patients by
one reads a page of an index. Next due and overdue are kept there too (`survey.domain.summaries`):
overdue needs no clock once stored; next due moves with the clock through expiry, so sorting
by it first moves the rows whose stored step of it has closed to their next step (an index
range scan, usually finding none); the page's rows show it worked out live. The query
first chooses the page's patients, computing only what the filters and the sort need, then
computes every figure for those patients alone (see `patient_page`). Pages are offset-based
over a stable order (the sort key, then the patient id) and fetch one row more than they show
to know whether there is a next page, so no count of all patients is needed.

Baseline, latest, previous and best follow the same rules as `results.patient_course` (the
tests check that list and patient page agree; `survey/domain/summaries.py` writes them in SQL):
baseline is the response at the `baseline` timepoint when there is one, else the earliest;
latest is the most recently submitted; previous the one before it; best the best total before
it in the instrument's declared direction. Changes are judged by `survey.instruments.change`.

**Worsened** matches a patient whose latest answers are worse than the previous answers or
than the best so far (which covers baseline): by at least the minimal important change on an
instrument that declares one (CCIS), or by a worse band on one with bands (QoLAF-Q).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, case, exists, false, func, or_, select
from sqlalchemy.orm import Session

from survey.clinic import followup
from survey.clinic.filters import ListFilters
from survey.clinic.flags import minimal_important_changes
from survey.domain.invitation_dates import InvitationDates
from survey.domain.summaries import PREFIXES, refresh_stale_follow_up
from survey.instruments import (
    CCIS,
    INSTRUMENT_IDS,
    QOLAF,
    Instrument,
    MinimalImportantChange,
    get_instrument,
)
from survey.instruments.change import Comparison, Reference, compare
from survey.models import Message, MessageStatus, Patient, PatientSummary, Site, User


@dataclass(frozen=True)
class Figures:
    """One questionnaire's figures on one line of the list, with their changes."""

    instrument: Instrument
    mic: MinimalImportantChange | None
    latest: int | None
    baseline: int | None
    previous: int | None
    best: int | None
    single: bool
    provisional: bool  # the latest answers were given to provisional wording
    baseline_provisional: bool
    previous_provisional: bool

    def _against(self, start: int | None, reference: Reference) -> Comparison | None:
        if self.latest is None or start is None:
            return None
        return compare(self.instrument, start, self.latest, reference, mic=self.mic)

    @property
    def change(self) -> Comparison | None:
        """Latest against baseline; None while the latest answers are the baseline ones."""
        return None if self.single else self._against(self.baseline, Reference.BASELINE)

    @property
    def change_previous(self) -> Comparison | None:
        """Latest against the answers before it."""
        return self._against(self.previous, Reference.PREVIOUS)

    @property
    def change_best(self) -> Comparison | None:
        """Latest against the best total before it."""
        return self._against(self.best, Reference.BEST)

    @property
    def worsened(self) -> tuple[Comparison, ...]:
        """What the Worsened filter matched: the comparisons with previous or best that
        show worsening (by the MIC or by band)."""
        return tuple(c for c in (self.change_previous, self.change_best) if c and c.worsened)

    @property
    def change_provisional(self) -> bool:
        """Whether either end of the change against baseline is provisional."""
        return self.provisional or self.baseline_provisional

    @property
    def change_previous_provisional(self) -> bool:
        return self.provisional or self.previous_provisional


@dataclass(frozen=True)
class PatientRow:
    """One line of the list, with the figures already computed."""

    id: int
    reference: str
    site: str
    language: str
    status: str
    timezone: str
    last_response_at: datetime | None
    next_due: datetime | None
    next_closes: datetime | None  # when the next-due invitation closes
    overdue: bool
    failed_contact: bool
    figures: dict[str, Figures] = field(default_factory=dict)

    def of(self, instrument_id: str) -> Figures:
        """The figures of one questionnaire."""
        return self.figures[instrument_id]

    @property
    def qolaf_latest(self) -> int | None:
        return self.figures[QOLAF].latest

    @property
    def qolaf_baseline(self) -> int | None:
        return self.figures[QOLAF].baseline

    @property
    def ccis_latest(self) -> int | None:
        return self.figures[CCIS].latest

    @property
    def ccis_baseline(self) -> int | None:
        return self.figures[CCIS].baseline

    @property
    def qolaf_band(self):
        return (
            None if self.qolaf_latest is None else get_instrument(QOLAF).band_for(self.qolaf_latest)
        )

    def change(self, instrument_id: str) -> Comparison | None:
        """Latest against baseline; None until there are two totals to compare."""
        return self.figures[instrument_id].change

    def change_previous(self, instrument_id: str) -> Comparison | None:
        """Latest against the answers before it; None until there are two."""
        return self.figures[instrument_id].change_previous

    def next_dates(self, now: datetime) -> InvitationDates | None:
        """The next-due invitation's stage and dates, as every page describes them."""
        if self.next_due is None or self.next_closes is None:
            return None
        return InvitationDates.from_times(self.next_due, self.next_closes, self.timezone, now)


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


def _band_rank(instrument: Instrument, total: ColumnElement) -> ColumnElement:
    """The place of a total's band from the best (0) to the worst, by the declared direction."""
    return case(
        *(
            (total.between(band.min, band.max), rank)
            for rank, band in enumerate(instrument.bands_best_first)
        ),
        else_=None,
    )


def worsened_condition(rows, mics: dict[str, MinimalImportantChange | None]) -> ColumnElement:
    """Per patient (`rows` carries each questionnaire's latest, previous and best): worse than
    the previous answers or than the best so far, by the MIC or by band."""
    conditions = []
    for instrument_id in INSTRUMENT_IDS:
        instrument, p = get_instrument(instrument_id), PREFIXES[instrument_id]
        latest = rows.c[f"{p}_latest"]
        for earlier in (rows.c[f"{p}_previous"], rows.c[f"{p}_best"]):
            mic = mics[instrument_id]
            if mic is not None:
                worsening = latest - earlier if instrument.higher_is_worse else earlier - latest
                conditions.append(worsening >= mic.deterioration)
            if instrument.bands:
                conditions.append(_band_rank(instrument, latest) > _band_rank(instrument, earlier))
    return or_(false(), *conditions)


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
    (`survey.domain.summaries`), so sorting by them reads an index instead of every response."""
    return {
        **{name: partial(getattr, PatientSummary, name) for name in SUMMARY_FIGURES},
        "next_due": lambda: followup.next_due_column(now),
        "next_closes": lambda: followup.next_closes_column(now),
        "next_due_at": followup.stored_next_due_column,
        "overdue": lambda: followup.overdue_condition(now, grace),
    }


# The list's figures read from the summary row, per questionnaire and overall.
PER_INSTRUMENT = (
    "latest",
    "baseline",
    "previous",
    "best",
    "change",
    "change_previous",
    "single",
    "provisional",
    "baseline_provisional",
    "previous_provisional",
)
SUMMARY_FIGURES = (
    *(f"{p}_{name}" for p in PREFIXES.values() for name in PER_INSTRUMENT),
    "last_response_at",
)

# What each filter and sort needs computed for every candidate patient.
NEEDS = {
    "band": ("qolaf_latest",),
    "worsened": tuple(
        f"{p}_{name}" for p in PREFIXES.values() for name in ("latest", "previous", "best")
    ),
    "overdue": ("overdue",),
    "qolaf": ("qolaf_latest",),
    "ccis": ("ccis_latest",),
    "qolaf_change": ("qolaf_change",),
    "qolaf_change_previous": ("qolaf_change_previous",),
    "ccis_change": ("ccis_change",),
    "ccis_change_previous": ("ccis_change_previous",),
    "last_response": ("last_response_at",),
    "next_due": ("next_due_at",),
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
    if sort == "next_due":
        # The one sort that reads a figure the clock moves: bring the rows whose stored step
        # of next due has closed (or not begun) to the one that holds now. An index range
        # scan, usually finding nothing; every other page is the one statement below.
        refresh_stale_follow_up(db, now)
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
    mics = minimal_important_changes(threshold)
    if filters.worsened:
        chosen = chosen.where(worsened_condition(candidates, mics))
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
            failed_contact_condition().label("failed_contact"),
        )
        .join(chosen, chosen.c.id == Patient.id)
        .join(PatientSummary, PatientSummary.patient_id == Patient.id)
        .join(Site, Site.id == Patient.site_id)
        .order_by(*_order(chosen.c.sort_key, descending), Patient.id)
    )
    found = db.execute(page).all()
    return Page(
        rows=[_row(values, mics) for values in found[:page_size]],
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
            "qolaf_change": "qolaf_change",
            "qolaf_change_previous": "qolaf_change_previous",
            "ccis_change": "ccis_change",
            "ccis_change_previous": "ccis_change_previous",
            "last_response": "last_response_at",
            "next_due": "next_due_at",
        }[sort]
    ]


def _order(key: ColumnElement, descending: bool) -> list:
    # Patients without a figure come after those with one, whichever the direction.
    return [(key.desc() if descending else key.asc()).nulls_last()]


def _row(values, mics: dict[str, MinimalImportantChange | None]) -> PatientRow:
    return PatientRow(
        id=values.id,
        reference=values.reference,
        site=values.site,
        language=values.language,
        status=values.status,
        timezone=values.timezone,
        last_response_at=_aware(values.last_response_at),
        next_due=_aware(values.next_due),
        next_closes=_aware(values.next_closes),
        overdue=bool(values.overdue),
        failed_contact=bool(values.failed_contact),
        figures={
            instrument_id: Figures(
                instrument=get_instrument(instrument_id),
                mic=mics[instrument_id],
                latest=getattr(values, f"{p}_latest"),
                baseline=getattr(values, f"{p}_baseline"),
                previous=getattr(values, f"{p}_previous"),
                best=getattr(values, f"{p}_best"),
                single=bool(getattr(values, f"{p}_single")),
                provisional=bool(getattr(values, f"{p}_provisional")),
                baseline_provisional=bool(getattr(values, f"{p}_baseline_provisional")),
                previous_provisional=bool(getattr(values, f"{p}_previous_provisional")),
            )
            for instrument_id, p in PREFIXES.items()
        },
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
