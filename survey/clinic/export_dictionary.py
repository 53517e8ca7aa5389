"""The data dictionary's details beyond a column's type and meaning: for the columns that hold
answers and scores, the item's text in every language, the answers' value labels, ranges,
subscale membership, bands with their ranges and source, and the wordings in use.

Read from the instrument definitions in use (after any licensed-wording import), so the
dictionary says what the exports were written from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from survey.clinic import export_labels as labels
from survey.clinic.export_columns import Column, prefix
from survey.instruments import Instrument, shipped_languages

# The languages the shipped definitions carry wording in (survey.instruments).
LANGUAGES = shipped_languages()

# The dictionary CSV's columns: the first five as before, then the details.
CSV_HEADER = (
    "export",
    "column",
    "type",
    "values",
    "description",
    "range",
    *(f"text_{lang}" for lang in LANGUAGES),
    *(f"value_labels_{lang}" for lang in LANGUAGES),
    "subscale",
    "bands",
    "source",
    "wording",
)


@dataclass
class Details:
    """What the dictionary adds to one column; every field may be empty."""

    range: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # by language
    value_labels: dict[str, str] = field(default_factory=dict)  # by language, "1=...; 2=..."
    subscale: str = ""
    bands: str = ""
    source: str = ""
    wording: str = ""

    def cells(self) -> list[str]:
        return [
            self.range,
            *(self.texts.get(lang, "") for lang in LANGUAGES),
            *(self.value_labels.get(lang, "") for lang in LANGUAGES),
            self.subscale,
            self.bands,
            self.source,
            self.wording,
        ]


def _pairs(mapping: dict) -> str:
    return "; ".join(f"{code}={text}" for code, text in mapping.items())


def _bands(instrument: Instrument) -> str:
    return "; ".join(
        f"{b.id}={b.min}" if b.min == b.max else f"{b.id}={b.min}-{b.max}" for b in instrument.bands
    )


def wording(instrument: Instrument) -> str:
    """The wordings in use: language, version and status of each."""
    return "; ".join(
        f"{lang}: {instrument.wording_version(lang)} ({instrument.wording_status(lang)})"
        for lang in instrument.languages
    )


def _option_labels(instrument: Instrument) -> dict[str, str]:
    return {lang: _pairs(labels.option_labels(instrument, lang)) for lang in instrument.languages}


def instrument_details(instrument: Instrument) -> dict[str, Details]:
    """Details of an instrument's wide columns, by name."""
    p = prefix(instrument)
    scale = f"{instrument.options[0].value}-{instrument.options[-1].value}"
    found = {
        f"{p}_total": Details(
            range=f"{instrument.min_total}-{instrument.max_total}",
            bands=_bands(instrument),
            source="; ".join(filter(None, (instrument.citation, instrument.bands_citation))),
            wording=wording(instrument),
        ),
        f"{p}_wording_version": Details(wording=wording(instrument)),
    }
    if instrument.bands:
        found[f"{p}_band"] = Details(
            value_labels={
                lang: _pairs({b.id: labels.band_label(b, lang) for b in instrument.bands})
                for lang in instrument.languages
            },
            bands=_bands(instrument),
            source=instrument.bands_citation or "",
        )
    for subscale in instrument.subscales:
        low, high = labels.subscale_range(instrument, subscale)
        found[f"{p}_{subscale.id}"] = Details(
            range=f"{low}-{high}",
            texts={lang: subscale.label(lang) for lang in instrument.languages},
            subscale=", ".join(subscale.item_ids)
            + (" (provisional item mapping)" if subscale.provisional else ""),
            source=subscale.note or "",
        )
    for item in instrument.items:
        found[f"{p}_item_{item.id}"] = Details(
            range=scale,
            texts={lang: item.text(lang) for lang in instrument.languages},
            value_labels=_option_labels(instrument),
            subscale=", ".join(s.id for s in labels.subscales_of_item(instrument, item.id)),
            source=instrument.citation,
            wording=wording(instrument),
        )
    return found


def long_details(instruments: Iterable[Instrument]) -> dict[str, Details]:
    """The long export's answer and score columns hold every instrument: per instrument."""
    instruments = tuple(instruments)

    def each(text) -> str:
        return "; ".join(f"{i.id}: {text(i)}" for i in instruments)

    return {
        "value": Details(
            range=each(lambda i: f"{i.options[0].value}-{i.options[-1].value}"),
            value_labels={
                lang: " | ".join(
                    f"{i.id}: {_pairs(labels.option_labels(i, lang))}" for i in instruments
                )
                for lang in LANGUAGES
            },
        ),
        "total": Details(
            range=each(lambda i: f"{i.min_total}-{i.max_total}"),
            bands=each(_bands),
            source=" | ".join(i.citation for i in instruments),
        ),
        "item_id": Details(
            texts={
                lang: " | ".join(
                    f"{i.id} {item.id}: {item.text(lang)}" for i in instruments for item in i.items
                )
                for lang in LANGUAGES
            },
        ),
        "wording_version": Details(
            wording=" | ".join(f"{i.id}: {wording(i)}" for i in instruments)
        ),
    }


def details(kind: str, instruments: Iterable[Instrument]) -> dict[str, Details]:
    """Details of one export's columns ("long" or "wide"), by column name."""
    instruments = tuple(instruments)
    if kind == "long":
        return long_details(instruments)
    found: dict[str, Details] = {}
    for instrument in instruments:
        found.update(instrument_details(instrument))
    return found


def csv_rows(tables: dict[str, tuple[Column, ...]], instruments) -> Iterable[list[str]]:
    """The dictionary CSV's rows, in CSV_HEADER order."""
    for kind, columns in tables.items():
        extra = details(kind, instruments)
        for column in columns:
            yield [
                kind,
                column.name,
                column.kind,
                column.values,
                str(column.description),
                *extra.get(column.name, Details()).cells(),
            ]
