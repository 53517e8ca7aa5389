"""The questionnaires patients answer: definitions, validation of answers, and scoring.

Pure Python, no Flask: instruments are data files in `definitions/`, loaded and
checked once, then shared as immutable objects.

    >>> qolaf = get_instrument("qolaf-q")
    >>> qolaf.score({f"q{n}": 2 for n in range(1, 15)}).band.id
    'limited'
"""

from __future__ import annotations

import functools
from importlib import resources

from survey.instruments.answers import AnswersError
from survey.instruments.checks import DefinitionError
from survey.instruments.definition import (
    CUTOFF_KINDS,
    LANGUAGES,
    WORDING_STATUSES,
    Band,
    Cutoff,
    Instrument,
    Item,
    MinimalImportantChange,
    Option,
    Subscale,
)
from survey.instruments.loading import load_definition, read_definition_file
from survey.instruments.scoring import Score
from survey.instruments.wording import apply_wording, shown_text, wording_overlay

__all__ = [
    "CUTOFF_KINDS",
    "INSTRUMENT_IDS",
    "LANGUAGES",
    "WORDING_STATUSES",
    "AnswersError",
    "Band",
    "Cutoff",
    "DefinitionError",
    "Instrument",
    "Item",
    "MinimalImportantChange",
    "Option",
    "Score",
    "Subscale",
    "all_instruments",
    "apply_wording",
    "get_instrument",
    "load_definition",
    "read_definition_file",
    "retired_instruments",
    "shown_text",
    "wording_overlay",
]

#: The shipped instruments, in the order staff screens list them.
INSTRUMENT_IDS: tuple[str, ...] = ("qolaf-q", "ccis")


@functools.cache
def get_instrument(instrument_id: str) -> Instrument:
    """The shipped instrument with this id, loaded and checked once per process."""
    if instrument_id not in INSTRUMENT_IDS:
        raise KeyError(f"unknown instrument {instrument_id!r} (known: {', '.join(INSTRUMENT_IDS)})")
    path = resources.files(__package__) / "definitions" / f"{instrument_id}.json"
    with resources.as_file(path) as file:
        instrument = load_definition(file)
    # A renamed file must not quietly serve another instrument under this id.
    if instrument.id != instrument_id:
        raise DefinitionError(
            f"{instrument_id}.json: id is {instrument.id!r}, not {instrument_id!r}"
        )
    return instrument


def all_instruments() -> tuple[Instrument, ...]:
    """Every shipped instrument, in INSTRUMENT_IDS order."""
    return tuple(get_instrument(instrument_id) for instrument_id in INSTRUMENT_IDS)


@functools.cache
def retired_instruments(instrument_id: str) -> tuple[Instrument, ...]:
    """Earlier shipped definitions of an instrument whose wording patients may have answered
    (`definitions/retired/<id>-<version>.json`), oldest version first. Never in use: they are
    kept so that answers given to them can still be shown with the words the patient read."""
    get_instrument(instrument_id)  # KeyError for an unknown id
    folder = resources.files(__package__) / "definitions" / "retired"
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith(f"{instrument_id}-") and entry.name.endswith(".json"):
            with resources.as_file(entry) as file:
                retired = load_definition(file)
            if retired.id != instrument_id:
                raise DefinitionError(f"retired/{entry.name}: id is {retired.id!r}")
            found.append(retired)
    return tuple(sorted(found, key=lambda retired: [int(p) for p in retired.version.split(".")]))
