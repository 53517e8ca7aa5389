"""Research exports as CSV, streamed row by row: long (one row per patient-timepoint-item) and
wide (one row per patient-timepoint). Column names are stable and described in DICTIONARY.

The database is read through a server-side cursor in batches (`yield_per`), and the CSV is
written to a small buffer that is handed on whenever it fills, so an export of any size needs
little memory. Text cells that a spreadsheet would run as a formula are defused (see
`safe_cell`).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from survey.clinic import export_changes

# The columns live in export_columns.py; these names stay importable from here too.
from survey.clinic.export_columns import Column, long_columns, prefix, wide_columns  # noqa: F401
from survey.clinic.flags import minimal_important_changes
from survey.clinic.results import local_date, timepoint_status
from survey.instruments import (
    CCIS,
    MinimalImportantChange,
    all_instruments,
    get_instrument,
)
from survey.models import (
    Answer,
    Episode,
    Invitation,
    InvitationStatus,
    Patient,
    Response,
    Site,
)

# Exports with no clinic setting at hand judge CCIS changes by the declared MIC.
DECLARED_CCIS_POINTS = get_instrument(CCIS).minimal_important_change.improvement

BATCH = 1000
FLUSH_AT = 64 * 1024  # characters of CSV held before they are sent
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a CSV as the machine's legacy code page unless it starts with a UTF-8 byte-order
# mark; R, pandas and Stata read the mark as part of the first column's name. Hence two files.
BOM = "\ufeff"
CSV_FOR = ("analysis", "spreadsheet")


@dataclass(frozen=True)
class ExportScope:
    """Which records an export holds: some of the user's sites, optionally a date range
    (inclusive, UTC days) on when responses were submitted."""

    site_ids: tuple[int, ...]
    date_from: date | None = None
    date_to: date | None = None

    @property
    def start(self) -> datetime | None:
        return datetime.combine(self.date_from, time.min, UTC) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: the first moment after the last day."""
        if self.date_to is None or self.date_to == date.max:  # no day after the last one
            return None
        return datetime.combine(self.date_to + timedelta(days=1), time.min, UTC)

    def within(self, column):
        """The date range as a condition on a timestamp column (true when there is none)."""
        conditions = []
        if self.start:
            conditions.append(column >= self.start)
        if self.end:
            conditions.append(column < self.end)
        return and_(True, *conditions)

    def as_detail(self) -> dict:
        return {
            "site_ids": list(self.site_ids),
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }


def safe_cell(value):
    """A value ready for a CSV cell: text a spreadsheet would run as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(
    header: Iterable[str], rows: Iterable[Iterable], counter: list[int], *, bom: bool = False
) -> Iterator[str]:
    """CSV text in chunks; counter[0] ends as the number of data rows written. `bom`: start
    with the UTF-8 byte-order mark, for spreadsheets."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        counter[0] += 1
        if buffer.tell() >= FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _days(moment: datetime | None, index_date: date | None, timezone: str) -> int | None:
    if moment is None or index_date is None:
        return None
    return (local_date(moment, timezone) - index_date).days


def _scoped(query: Select, scope: ExportScope) -> Select:
    return query.where(Patient.site_id.in_(scope.site_ids))


def _mics(mics: dict | None) -> dict[str, MinimalImportantChange | None]:
    # Without the clinic's setting, each instrument's declared MIC.
    return mics if mics is not None else minimal_important_changes(DECLARED_CCIS_POINTS)


# A timepoint's episode (an invitation without one is read as the patient's first episode,
# from the patient's own index date: survey/domain/episodes.py).
EPISODE_INDEX_DATE = func.coalesce(Episode.index_date, Patient.index_date)
EPISODE_NUMBER = func.coalesce(Episode.number, 1)


def long_rows(db: Session, scope: ExportScope, mics: dict | None = None) -> Iterator[tuple]:
    """One row per answered item, in long_columns() order; `mics` per instrument (default:
    as declared, see `flags.minimal_important_changes`)."""
    mics = _mics(mics)
    earlier = export_changes.earlier_totals(scope.site_ids)
    query = _scoped(
        select(
            Patient.reference,
            Site.name,
            EPISODE_INDEX_DATE,
            Patient.timezone,
            Invitation.timepoint,
            Invitation.id,
            Response.id,
            Response.instrument_id,
            Response.instrument_version,
            Response.wording_version,
            Response.language,
            Response.wording_status,
            Response.wording_hash,
            Response.submitted_at,
            Response.total,
            *export_changes.earlier_columns(earlier),
            Answer.item_id,
            Answer.position,
            Answer.value,
            Response.mode,
            EPISODE_NUMBER,
        )
        .join(Response, Response.id == Answer.response_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Episode, Episode.id == Invitation.episode_id)
        .join(Patient, Patient.id == Response.patient_id)
        .join(Site, Site.id == Patient.site_id)
        .join(earlier, earlier.c.response_id == Response.id)
        .where(scope.within(Response.submitted_at))
        .order_by(
            Site.name, Patient.reference, Response.submitted_at, Response.id, Answer.position
        ),
        scope,
    )
    changes: dict[int, list] = {}  # per response: worked out once, not once per item
    for row in db.execute(query.execution_options(yield_per=BATCH)):
        (reference, site, index_date, timezone, timepoint, invitation_id, response_id) = row[:7]
        instrument_id, version, wording_version, language, status, wording_hash = row[7:13]
        submitted_at, total = row[13:15]
        item_id, position, value, mode, episode = row[19:24]
        if response_id not in changes:
            changes.clear()
            changes[response_id] = export_changes.change_cells(
                get_instrument(instrument_id),
                response_id,
                total,
                export_changes.Earlier(*row[15:19]),
                mics.get(instrument_id),
            )
        yield (
            reference,
            site,
            index_date,
            timepoint,
            invitation_id,
            response_id,
            instrument_id,
            version,
            wording_version,
            language,
            status,
            wording_hash,
            mode,
            submitted_at,
            _days(submitted_at, index_date, timezone),
            total,
            *changes[response_id],
            item_id,
            position,
            value,
            episode,
        )


def wide_rows(
    db: Session, scope: ExportScope, now: datetime, mics: dict | None = None
) -> Iterator[tuple]:
    """One row per timepoint that has opened, in wide_columns() order."""
    mics = _mics(mics)
    instruments = all_instruments()
    earlier = export_changes.earlier_totals(scope.site_ids)
    query = _scoped(
        select(
            Invitation,
            Patient.reference,
            Site.name,
            EPISODE_INDEX_DATE,
            Patient.timezone,
            Response,
            Answer.item_id,
            Answer.value,
            *export_changes.earlier_columns(earlier),
            EPISODE_NUMBER,
        )
        .join(Patient, Patient.id == Invitation.patient_id)
        .outerjoin(Episode, Episode.id == Invitation.episode_id)
        .join(Site, Site.id == Patient.site_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(Answer, Answer.response_id == Response.id)
        .outerjoin(earlier, earlier.c.response_id == Response.id)
        .where(
            Invitation.opens_at <= now,
            or_(
                and_(Response.id.is_not(None), scope.within(Response.submitted_at)),
                and_(
                    Response.id.is_(None),
                    Invitation.status != InvitationStatus.CANCELLED,
                    scope.within(Invitation.opens_at),
                ),
            ),
        )
        .order_by(
            Site.name,
            Patient.reference,
            Invitation.opens_at,
            Invitation.id,
            Response.id,
            Answer.position,
        ),
        scope,
    )
    rows = db.execute(query.execution_options(yield_per=BATCH))
    for _, group in itertools.groupby(rows, key=lambda row: row[0].id):
        group = list(group)
        invitation, reference, site, index_date, timezone = group[0][:5]
        responses = {row[5].instrument_id: row[5] for row in group if row[5] is not None}
        answers = {(row[5].instrument_id, row[6]): row[7] for row in group if row[5] is not None}
        earlier_of = {
            row[5].instrument_id: export_changes.Earlier(*row[8:12])
            for row in group
            if row[5] is not None
        }
        line = [
            reference,
            site,
            index_date,
            invitation.timepoint,
            invitation.id,
            invitation.opens_at,
            timepoint_status(invitation, set(responses), now),
        ]
        for instrument in instruments:
            response = responses.get(instrument.id)
            changes = (
                None
                if response is None
                else export_changes.change_cells(
                    instrument,
                    response.id,
                    response.total,
                    earlier_of[instrument.id],
                    mics.get(instrument.id),
                )
            )
            line += _response_cells(instrument, response, index_date, timezone, answers, changes)
        line.append(group[0][12])  # the episode's number
        yield tuple(line)


CHANGE_CELLS = 6  # change and verdict against baseline, previous and best


def _response_cells(instrument, response, index_date, timezone, answers, changes) -> list:
    width = (
        10
        + bool(instrument.bands)
        + CHANGE_CELLS
        + len(instrument.subscales)
        + len(instrument.items)
    )
    if response is None:
        return [None] * width
    cells = [
        response.id,
        response.submitted_at,
        _days(response.submitted_at, index_date, timezone),
        response.language,
        response.instrument_version,
        response.wording_version,
        response.wording_status,
        response.wording_hash,
        response.mode,
        response.total,
    ]
    if instrument.bands:
        cells.append(response.band)
    cells += changes
    cells += [response.subscales.get(subscale.id) for subscale in instrument.subscales]
    cells += [answers.get((instrument.id, item.id)) for item in instrument.items]
    return cells
