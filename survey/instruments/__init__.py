"""The questionnaires patients answer: definitions, validation of answers, and scoring.

Pure Python, no Flask: instruments are data files in `definitions/`, loaded and
checked once, then shared as immutable objects.

    >>> from survey.instruments import scoring
    >>> qolaf = get_instrument("qolaf-q")
    >>> scoring.score(qolaf, {f"q{n}": 2 for n in range(1, 15)}).band.id
    'limited'

An `Instrument` is a value; what is done with one is a function in the module for that
idea: `answers.validate_answers`, `scoring.score` (and `score_checked` for answers already
validated), `fingerprint.wording_hash`, `definition_file.definition_dict`.
"""

from __future__ import annotations

import functools
from importlib import resources

from survey.instruments.answers import AnswersError
from survey.instruments.checks import DefinitionError
from survey.instruments.definition import (
    CUTOFF_KINDS,
    WORDING_STATUSES,
    Band,
    Cutoff,
    Instrument,
    Item,
    MinimalImportantChange,
    Option,
    Subscale,
)
from survey.instruments.fingerprint import shown_text
from survey.instruments.licensed_wording import apply_wording, wording_overlay
from survey.instruments.loading import load_definition, read_definition_file
from survey.instruments.scoring import Score

__all__ = [
    "CCIS",
    "CUTOFF_KINDS",
    "INSTRUMENT_IDS",
    "LANGUAGES",
    "QOLAF",
    "SHORT_NAMES",
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
    "shipped_languages",
    "shown_text",
    "wording_overlay",
]

#: The shipped instruments' ids: the only place they are spelled out.
QOLAF, CCIS = "qolaf-q", "ccis"
#: The shipped instruments, in the order staff screens list them.
INSTRUMENT_IDS: tuple[str, ...] = (QOLAF, CCIS)
#: The names staff, exports and charts call them by.
SHORT_NAMES: dict[str, str] = {QOLAF: "QoLAF-Q", CCIS: "CCIS"}


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
    for data in shipped_language_files(instrument_id):
        instrument = apply_wording(instrument, data)
    return instrument


def shipped_language_files(instrument_id: str) -> list[dict]:
    """The wording files shipped for languages added after an instrument's definition
    (`definitions/languages/<id>.<lang>.json`, in the format `instruments import` reads),
    in file-name order. They are applied as a clinic's import would be: a language is added
    by data alone, and the definition itself (and every existing language's wording) stays
    as it was."""
    folder = resources.files(__package__) / "definitions" / "languages"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.startswith(f"{instrument_id}.") and entry.name.endswith(".json"):
            with resources.as_file(entry) as file:
                found.append(read_definition_file(file))
    return found


def shipped_languages() -> tuple[str, ...]:
    """Every language some shipped instrument carries wording in, in the order the
    definitions list them. Derived from the files: adding a language adds no code."""
    found: dict[str, None] = {}
    for instrument in all_instruments():
        found.update(dict.fromkeys(instrument.languages))
    return tuple(found)


def __getattr__(name: str):
    # `LANGUAGES` was once a list in code; it is now whatever the shipped files give. The
    # package's code calls shipped_languages(); the name stays importable.
    if name == "LANGUAGES":
        return shipped_languages()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
