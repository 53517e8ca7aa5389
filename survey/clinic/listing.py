"""The patient list: one SQL query per page, however many patients.

The figures that come from answers (latest and baseline totals per instrument, last response)
are read from each patient's summary row, kept up to date in the transaction that stores
answers (`survey.domain.summaries`) and indexed in both directions, so sorting 100,000 patients by
one reads a page of an index. Next due and overdue are kept there too (`survey.domain.summaries`):
overdue needs no clock once stored; next due moves with the clock through expiry, so a page
sorted by it also asks whether any stored step of it has closed (two index range scans that
stop at their first row), and only then moves those rows to their next step and reads the
page again; the page's rows show it worked out live. The query first chooses the page's
patients, computing only what the filters and the sort need, then computes every figure for
those patients alone (see `patient_page`). Pages are offset-based over a stable order (the
sort key, then the patient id) and fetch one row more than they show to know whether there
is a next page, so no count of all patients is needed.

Each shape of page (its sort, its direction, which filters are on) is one statement built
once per process, with the request's values (sites, time, band, language, reference, the
MIC, page) as bind parameters, and run on the session's connection as Core: building the
statement and SQLAlchemy's ORM result rows had cost several times the database's own time.

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

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from survey.clinic import followup
from survey.clinic.filters import ListFilters
from survey.clinic.flags import minimal_important_changes
from survey.domain import summary_figures
from survey.domain.invitation_dates import InvitationDates
from survey.domain.summaries import PREFIXES, any_stale_follow_up, refresh_stale_follow_up
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
from survey.models.base import UTCDateTime


# Not frozen, for speed: a page makes 150 of these and PatientRow, and a frozen dataclass
# is set up field by field through object.__setattr__, five times as slow. Nothing changes them.
@dataclass
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
        return _comparison(self.instrument, start, self.latest, reference, self.mic)

    # Cached: a row's template reads each comparison several times (the cell, its provisional
    # mark, the Worsened tags), and each is worked out from the totals.
    @cached_property
    def change(self) -> Comparison | None:
        """Latest against baseline; None while the latest answers are the baseline ones."""
        return None if self.single else self._against(self.baseline, Reference.BASELINE)

    @cached_property
    def change_previous(self) -> Comparison | None:
        """Latest against the answers before it."""
        return self._against(self.previous, Reference.PREVIOUS)

    @cached_property
    def change_best(self) -> Comparison | None:
        """Latest against the best total before it."""
        return self._against(self.best, Reference.BEST)

    @cached_property
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


# instrument id -> (the instrument in use, {(start, end, reference, MIC): Comparison})
_compared: dict[str, tuple[Instrument, dict[tuple, Comparison]]] = {}


def _comparison(
    instrument: Instrument,
    start: int,
    end: int,
    reference: Reference,
    mic: MinimalImportantChange | None,
) -> Comparison:
    """`compare`, kept per value: a page compares 300 pairs of totals (a sixth of its time
    went there), and an instrument's totals are few. A Comparison is immutable, so rows share
    it. Kept while the instrument object in use stays the same, as its rendered items are."""
    kept = _compared.get(instrument.id)
    if kept is None or kept[0] is not instrument:
        kept = _compared[instrument.id] = (instrument, {})
    key = (start, end, reference, mic)
    found = kept[1].get(key)
    if found is None:
        found = kept[1][key] = compare(instrument, start, end, reference, mic=mic)
    return found


@dataclass
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


def worsened_condition(rows) -> ColumnElement:
    """Per patient (`rows` carries each questionnaire's latest, previous and best): worse than
    the previous answers or than the best so far, by the MIC or by band. The MIC's points
    are the bind parameters `deterioration_parameters` names."""
    conditions = []
    for instrument_id in INSTRUMENT_IDS:
        instrument, p = get_instrument(instrument_id), PREFIXES[instrument_id]
        latest = rows.c[f"{p}_latest"]
        for earlier in (rows.c[f"{p}_previous"], rows.c[f"{p}_best"]):
            if instrument.minimal_important_change is not None:
                worsening = latest - earlier if instrument.higher_is_worse else earlier - latest
                conditions.append(worsening >= bindparam(f"{p}_deterioration"))
            if instrument.bands:
                conditions.append(_band_rank(instrument, latest) > _band_rank(instrument, earlier))
    return or_(false(), *conditions)


def deterioration_parameters(mics: dict[str, MinimalImportantChange | None]) -> dict[str, int]:
    """The values of `worsened_condition`'s bind parameters: each MIC's points of worsening."""
    return {
        f"{PREFIXES[instrument_id]}_deterioration": mic.deterioration
        for instrument_id, mic in mics.items()
        if mic is not None
    }


FAILED_CONTACT = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.REVIEW)


def failed_contact_condition() -> ColumnElement[bool]:
    """Per patient: a message to them failed, was not delivered, or has an unknown outcome,
    and no coordinator has dealt with it yet (retried or dismissed it)."""
    return (
        exists()
        .where(
            Message.patient_id == Patient.id,
            # The statuses as values of their own, not one list SQLAlchemy expands at each run.
            Message.status.in_([literal(status, Message.status.type) for status in FAILED_CONTACT]),
            Message.resolved_at.is_(None),
        )
        .correlate(Patient)
    )


# The request's time, and now less the grace period, as the page's statements take them.
NOW = bindparam("now", type_=PatientSummary.next_due_at.type)
OVERDUE_OPENED_BY = bindparam("overdue_opened_by", type_=PatientSummary.overdue_since.type)


def _figures() -> dict[str, Callable[[], ColumnElement]]:
    """Every per-patient figure of the list, by name, built on demand. Those that come from
    answers are read from the patient's summary row, kept with the answers
    (`survey.domain.summaries`), so sorting by them reads an index instead of every response."""
    return {
        **{name: partial(getattr, PatientSummary, name) for name in SUMMARY_FIGURES},
        "next_due": lambda: followup.next_due_column(NOW),
        "next_closes": lambda: followup.next_closes_column(NOW),
        "next_due_at": followup.stored_next_due_column,
        "overdue": lambda: followup.overdue_condition(OVERDUE_OPENED_BY),
    }


# The list reads every figure the summary row keeps, per questionnaire and overall.
SUMMARY_FIGURES = summary_figures.COLUMNS

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
    sort = filters.sort.lstrip("-")
    site_ids = filters.site_ids(user)
    statement = _page_statement(
        sort,
        filters.sort.startswith("-"),
        one_site=len(site_ids) == 1,
        band=bool(filters.band),
        overdue=filters.overdue,
        worsened=filters.worsened,
        language=bool(filters.language),
        reference=bool(filters.reference),
    )
    mics = minimal_important_changes(threshold)
    values = {
        "site_ids": site_ids,
        "site_id": site_ids[0] if site_ids else None,
        "now": now,
        "overdue_opened_by": followup.overdue_opened_by(now, grace),
        "limit": page_size + 1,
        "offset": (filters.page - 1) * page_size,
        **deterioration_parameters(mics),
    }
    if filters.band:
        band = next(b for b in get_instrument(QOLAF).bands if b.id == filters.band)
        values.update(band_min=band.min, band_max=band.max)
    if filters.language:
        values["language"] = filters.language
    if filters.reference:
        values["pattern"] = "%" + _escape_like(filters.reference.lower()) + "%"
    # Core rows on the session's connection (after a flush, as the ORM's execute would):
    # plain tuples, without the ORM's result machinery.
    db.flush()
    found = db.connection().execute(statement, values).all()
    if sort == "next_due" and found and found[0][AT_STALE]:
        # The one sort that reads a figure the clock moves, and some stored step of it has
        # closed (or not begun) at `now`: bring those rows to the step that holds now and
        # read the page again. Usually nothing is stale and the page is one statement.
        refresh_stale_follow_up(db, now)
        found = db.connection().execute(statement, values).all()
    return Page(
        rows=_rows(found[:page_size], mics),
        number=filters.page,
        size=page_size,
        has_next=len(found) > page_size,
    )


@functools.lru_cache(maxsize=256)
def _page_statement(
    sort: str,
    descending: bool,
    *,
    one_site: bool,
    band: bool,
    overdue: bool,
    worsened: bool,
    language: bool,
    reference: bool,
) -> Select:
    """The page's statement for this sort and these filters, built once per process: the
    request's values are its bind parameters (see `patient_page`), and one statement object
    keeps its cache key and SQLAlchemy's compiled form (building it and its cache key each
    time cost more than PostgreSQL's execution of it)."""
    figures = _figures()
    needed = [
        name
        for key in (
            band and "band",
            worsened and "worsened",
            overdue and "overdue",
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
        .where(
            # One site, as most staff have, without the list's IN worked out at each run.
            Patient.site_id == bindparam("site_id")
            if one_site
            else Patient.site_id.in_(bindparam("site_ids", expanding=True))
        )
    )
    if language:
        candidates = candidates.where(Patient.language == bindparam("language"))
    if reference:
        candidates = candidates.where(
            func.lower(Patient.reference).like(bindparam("pattern"), escape="\\")
        )
    candidates = candidates.subquery("candidates")

    # Ordered by the label, so the database computes the key once per patient, not twice.
    sort_key = _sort_key(candidates, sort).label("sort_key")
    chosen = select(candidates.c.id, sort_key)
    if band:
        chosen = chosen.where(
            candidates.c.qolaf_latest.between(bindparam("band_min"), bindparam("band_max"))
        )
    if overdue:
        chosen = chosen.where(candidates.c.overdue)
    if worsened:
        chosen = chosen.where(worsened_condition(candidates))
    chosen = (
        chosen.order_by(*_order(sort_key, descending, sort), candidates.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("chosen")
    )
    # Sorted by next due, the page also says whether any stored step of it is stale at
    # `now`: an uncorrelated subquery, worked out once for the statement.
    stale = any_stale_follow_up(NOW) if sort == "next_due" else false()
    page = (
        select(
            Patient.id.label("id"),
            Patient.reference.label("reference"),
            Site.name.label("site"),
            Patient.language.label("language"),
            Patient.status.label("status"),
            Patient.timezone.label("timezone"),
            *(_shown(figures[name]()).label(name) for name in SHOWN),
            failed_contact_condition().label("failed_contact"),
            stale.label("stale"),
        )
        .join(chosen, chosen.c.id == Patient.id)
        .join(PatientSummary, PatientSummary.patient_id == Patient.id)
        .join(Site, Site.id == Patient.site_id)
        .order_by(*_order(chosen.c.sort_key, descending, sort), Patient.id)
    )
    if tuple(page.selected_columns.keys()) != COLUMNS:
        raise RuntimeError("the list's statement and _row disagree on its columns' places")
    return page


def _shown(figure: ColumnElement) -> ColumnElement:
    """A figure as the page reads it: times as the driver gives them, which `_aware` makes
    UTC, rather than through UTCDateTime's result processing (two Python calls a value)."""
    if isinstance(figure.type, UTCDateTime):
        return type_coerce(figure, DateTime(timezone=True))
    return figure


# Each questionnaire's figures a row shows, in the order `Figures` takes them after its
# instrument and MIC (the changes are worked out from them).
SHOWN_PER_INSTRUMENT = (
    "latest",
    "baseline",
    "previous",
    "best",
    "single",
    "provisional",
    "baseline_provisional",
    "previous_provisional",
)
# The figures a row shows, and the page statement's columns in order: where `_row` finds each.
SHOWN = (
    *(f"{p}_{name}" for p in PREFIXES.values() for name in SHOWN_PER_INSTRUMENT),
    "last_response_at",
    "next_due",
    "next_closes",
    "overdue",
)
COLUMNS = (
    "id",
    "reference",
    "site",
    "language",
    "status",
    "timezone",
    *SHOWN,
    "failed_contact",
    "stale",
)
AT = {name: place for place, name in enumerate(COLUMNS)}
AT_ID, AT_REFERENCE, AT_SITE, AT_LANGUAGE, AT_STATUS, AT_TIMEZONE = range(6)
AT_LAST_RESPONSE_AT = AT["last_response_at"]
AT_NEXT_DUE, AT_NEXT_CLOSES, AT_OVERDUE = AT["next_due"], AT["next_closes"], AT["overdue"]
AT_FAILED_CONTACT, AT_STALE = AT["failed_contact"], AT["stale"]
FIGURES_AT = {
    instrument_id: tuple(AT[f"{p}_{name}"] for name in SHOWN_PER_INSTRUMENT)
    for instrument_id, p in PREFIXES.items()
}


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


def _order(key: ColumnElement, descending: bool, sort: str) -> list:
    # Patients without a figure come after those with one, whichever the direction. Every
    # patient has a reference: PostgreSQL does not know that NULLS LAST changes nothing
    # there, and would sort every patient instead of reading the reference index backwards.
    ordered = key.desc() if descending else key.asc()
    return [ordered if sort == "reference" else ordered.nulls_last()]


def _rows(found, mics: dict[str, MinimalImportantChange | None]) -> list[PatientRow]:
    """The page's lines from its statement's rows, read by place (see COLUMNS)."""
    each = [
        (instrument_id, get_instrument(instrument_id), mics[instrument_id], places)
        for instrument_id, places in FIGURES_AT.items()
    ]
    rows = []
    for row in found:
        figures = {}
        for instrument_id, instrument, mic, (a, b, c, d, e, f, g, h) in each:
            figures[instrument_id] = Figures(
                instrument,
                mic,
                row[a],
                row[b],
                row[c],
                row[d],
                bool(row[e]),
                bool(row[f]),
                bool(row[g]),
                bool(row[h]),
            )
        rows.append(
            PatientRow(
                row[AT_ID],
                row[AT_REFERENCE],
                row[AT_SITE],
                row[AT_LANGUAGE],
                row[AT_STATUS],
                row[AT_TIMEZONE],
                _aware(row[AT_LAST_RESPONSE_AT]),
                _aware(row[AT_NEXT_DUE]),
                _aware(row[AT_NEXT_CLOSES]),
                bool(row[AT_OVERDUE]),
                bool(row[AT_FAILED_CONTACT]),
                figures,
            )
        )
    return rows


def _aware(moment: datetime | str | None) -> datetime | None:
    """A time of the page as an aware UTC datetime: PostgreSQL's are aware in the session's
    zone; SQLite's naive (stored as UTC), or text where a column's type was lost."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
