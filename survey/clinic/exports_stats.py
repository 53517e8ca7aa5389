"""SPSS (.sav) and Stata (.dta): the wide export with variable and value labels, written by
pyreadstat.

pyreadstat writes a whole data frame to a file, so unlike the CSV exports these are not
streamed from the database: the rows are held in memory (column by column, as pandas wants
them) up to EXPORT_STATS_MAX_ROWS timepoints, written to a temporary file, and that file is
streamed and removed. `StatsTooLarge` asks for a narrower export instead of growing without
bound. Labels are in the reader's language: item texts and answer labels as the definition
words them, bands with their ranges, subscales with their items.

Coded text becomes labelled numbers, as SPSS and Stata users expect (wording status,
timepoint status, band, verdicts; numbered in the order export_labels lists them); answers
and totals stay the numbers they are, answers with their labels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import pandas
import pyreadstat
from flask_babel import gettext
from sqlalchemy.orm import Session

from survey.clinic import export_labels as labels
from survey.clinic.export_columns import Column, prefix, wide_columns
from survey.clinic.exports import ExportScope, wide_rows
from survey.instruments import Instrument

FORMATS = ("sav", "dta")
STATA_LABEL = 80  # characters Stata keeps of a variable label


class StatsTooLarge(Exception):
    """More timepoints than EXPORT_STATS_MAX_ROWS: the export must be narrowed."""


def value_labels(instruments: Iterable[Instrument], lang: str) -> dict[str, dict[int, str]]:
    """Every labelled variable's labels, by wide column name."""
    found: dict[str, dict[int, str]] = {
        "timepoint_status": {
            n: code for code, n in labels.numbered(labels.CODED["timepoint_status"]).items()
        }
    }
    statuses = {n: code for code, n in labels.numbered(labels.CODED["wording_status"]).items()}
    verdicts = {n: code for code, n in labels.numbered(labels.CODED["verdict"]).items()}
    for instrument in instruments:
        p = prefix(instrument)
        found[f"{p}_wording_status"] = statuses
        for reference in ("baseline", "previous", "best"):
            found[f"{p}_verdict_from_{reference}"] = verdicts
        if instrument.bands:
            codes = labels.band_codes(instrument)
            found[f"{p}_band"] = {
                codes[band.id]: labels.band_label(band, lang) for band in instrument.bands
            }
        options = labels.option_labels(instrument, lang)
        for item in instrument.items:
            found[f"{p}_item_{item.id}"] = options
    return found


def variable_labels(
    instruments: Iterable[Instrument], columns: Iterable[Column], lang: str
) -> dict[str, str]:
    """Each variable's label: the item's text for items, the subscale's items for subscales,
    else the dictionary's description."""
    found = {column.name: str(column.description) for column in columns}
    for instrument in instruments:
        p = prefix(instrument)
        for item in instrument.items:
            found[f"{p}_item_{item.id}"] = labels.item_label(instrument, item, lang)
        for subscale in instrument.subscales:
            found[f"{p}_{subscale.id}"] = labels.subscale_text(instrument, subscale, lang)
    return found


def _codes(instruments: Iterable[Instrument]) -> dict[str, dict[str, int]]:
    """Text codes to the numbers SPSS and Stata label, by wide column name."""
    found = {"timepoint_status": labels.numbered(labels.CODED["timepoint_status"])}
    for instrument in instruments:
        p = prefix(instrument)
        found[f"{p}_wording_status"] = labels.numbered(labels.CODED["wording_status"])
        for reference in ("baseline", "previous", "best"):
            found[f"{p}_verdict_from_{reference}"] = labels.numbered(labels.CODED["verdict"])
        if instrument.bands:
            found[f"{p}_band"] = labels.band_codes(instrument)
    return found


def _cell(value, kind: str, codes: dict[str, int] | None):
    if codes is not None:
        return math.nan if value is None else codes[value]
    if kind == "integer":
        return math.nan if value is None else value
    if kind == "datetime":
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)
    if kind == "date":
        return None if value is None else datetime.combine(value, datetime.min.time())
    return "" if value is None else str(value)


def frame(
    db: Session,
    scope: ExportScope,
    now: datetime,
    instruments: tuple[Instrument, ...],
    mics: dict | None,
    max_rows: int,
) -> tuple[pandas.DataFrame, list[Column]]:
    """The wide export as a data frame of plain numbers, text and naive UTC datetimes."""
    columns = list(wide_columns(instruments))
    codes = _codes(instruments)
    data: list[list] = [[] for _ in columns]
    for count, row in enumerate(wide_rows(db, scope, now, mics), start=1):
        if count > max_rows:
            raise StatsTooLarge
        for values, column, value in zip(data, columns, row, strict=True):
            values.append(_cell(value, column.kind, codes.get(column.name)))
    series = {}
    for column, values in zip(columns, data, strict=True):
        if column.kind in {"date", "datetime"}:
            series[column.name] = pandas.Series(pandas.to_datetime(values), dtype="datetime64[ns]")
        elif column.kind == "integer" or column.name in codes:
            series[column.name] = pandas.Series(values, dtype="float64")
        else:
            series[column.name] = pandas.Series(values, dtype="object")
    return pandas.DataFrame(series), columns


def write(
    kind: str,
    path: str,
    db: Session,
    scope: ExportScope,
    now: datetime,
    instruments: tuple[Instrument, ...],
    lang: str,
    mics: dict | None = None,
    max_rows: int = 20_000,
) -> int:
    """Write the .sav or .dta file at `path`; the number of rows (timepoints) written."""
    data, columns = frame(db, scope, now, instruments, mics, max_rows)
    names = [column.name for column in columns]
    texts = variable_labels(instruments, columns, lang)
    values = {name: v for name, v in value_labels(instruments, lang).items() if name in names}
    title = gettext("Patient-reported outcomes, exported %(when)s UTC", when=f"{now:%Y-%m-%d}")
    if kind == "sav":
        pyreadstat.write_sav(
            data,
            path,
            file_label=title,
            column_labels=[texts[name] for name in names],
            variable_value_labels=values,
            variable_measure={name: _measure(name, data[name].dtype, values) for name in names},
        )
    elif kind == "dta":
        pyreadstat.write_dta(
            data,
            path,
            file_label=title[:80],
            column_labels=[_short(texts[name]) for name in names],
            variable_value_labels=values,
        )
    else:
        raise ValueError(kind)
    return len(data)


def _measure(name: str, dtype, values: dict) -> str:
    """SPSS's level of measurement: answers and bands are ordered, other codes are not."""
    if name.endswith("_band") or "_item_" in name:
        return "ordinal"
    if name in values or dtype.kind == "O":
        return "nominal"
    return "scale"


def _short(text: str) -> str:
    return text if len(text) <= STATA_LABEL else text[: STATA_LABEL - 1] + "…"
