"""Reading a definition file, checking every field, and building an Instrument from it.

A definition is checked completely before anything uses it: a typo in a file must
stop the service at start-up with a message naming the field, never reach a patient.
The file format is described field by field in docs/instruments.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from survey.instruments.checks import (
    DefinitionError,
    bands_field,
    cutoffs_field,
    identifier_field,
    items_field,
    languages_field,
    minimal_important_change_field,
    options_field,
    recall_periods_field,
    require_fields,
    subscales_field,
    text_field,
    translations_field,
    wordings_field,
)
from survey.instruments.definition import SCORING_METHODS, Instrument

FIELDS: tuple[str, ...] = (
    "id",
    "version",
    "citation",
    "languages",
    "wording",
    "title",
    "instructions",
    "recall_period",
    "options",
    "items",
    "scoring",
    "higher_is_worse",
    "minimal_important_change",
    "bands",
    "bands_citation",
    "subscales",
    "cutoffs",
)

#: Fields a definition may leave out; each reads as null.
OPTIONAL_FIELDS: tuple[str, ...] = ("minimal_important_change",)


def load_definition(source: str | os.PathLike[str] | Mapping[str, object]) -> Instrument:
    """Build an Instrument from a definition file path or an already-parsed dict.

    Raises DefinitionError with a one-line message: where, which field, what is wrong.
    """
    if isinstance(source, Mapping):
        label = f"definition {source.get('id', '(no id)')!r}"
        data = source
    else:
        label = Path(source).name
        data = read_definition_file(source)
    try:
        return parse_definition(data)
    except DefinitionError as error:
        raise DefinitionError(f"{label}: {error}") from None


def read_definition_file(path: str | os.PathLike[str]) -> dict:
    """Read a definition or wording file as JSON, refusing duplicate keys."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as file:
            data = json.load(file, object_pairs_hook=_refuse_duplicate_keys)
    except OSError as error:
        raise DefinitionError(f"{path}: cannot read the file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DefinitionError(f"{path.name}: the file is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise DefinitionError(
            f"{path.name}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except _DuplicateKey as error:
        raise DefinitionError(f"{path.name}: the key {error.key!r} appears twice") from None
    if not isinstance(data, dict):
        raise DefinitionError(f"{path.name}: the file must hold one JSON object")
    return data


def parse_definition(data: Mapping[str, object]) -> Instrument:
    """Check every field of a definition dict and build the Instrument it describes."""
    require_fields(
        data,
        "definition",
        required=tuple(name for name in FIELDS if name not in OPTIONAL_FIELDS),
        optional=OPTIONAL_FIELDS,
    )
    languages = languages_field(data["languages"])
    options = options_field(data["options"], languages)
    items = items_field(data["items"], languages)
    min_total, max_total = len(items) * options[0].value, len(items) * options[-1].value
    require_fields(data["scoring"], "scoring", required=("method",))
    method = data["scoring"]["method"]
    if method not in SCORING_METHODS:
        raise DefinitionError(
            f"scoring.method: {method!r} is not supported (supported: {', '.join(SCORING_METHODS)})"
        )
    if not isinstance(data["higher_is_worse"], bool):
        raise DefinitionError("higher_is_worse: must be true or false")
    bands = bands_field(data["bands"], languages, min_total, max_total)
    bands_citation = None if data["bands_citation"] is None else text_field(data, "bands_citation")
    if bands and bands_citation is None:
        raise DefinitionError("bands_citation: bands need a citation")
    return Instrument(
        id=identifier_field(data, "id"),
        version=text_field(data, "version"),
        citation=text_field(data, "citation"),
        languages=languages,
        items=items,
        options=options,
        scoring_method=method,
        higher_is_worse=data["higher_is_worse"],
        bands=bands,
        bands_citation=bands_citation,
        subscales=subscales_field(data["subscales"], languages, [item.id for item in items]),
        cutoffs=cutoffs_field(data["cutoffs"], languages, min_total, max_total),
        titles=translations_field(data["title"], languages, "title"),
        instruction_texts=translations_field(data["instructions"], languages, "instructions"),
        recall_periods=recall_periods_field(data["recall_period"], languages),
        wordings=wordings_field(data["wording"], languages),
        minimal_important_change=minimal_important_change_field(
            data.get("minimal_important_change"), max_total - min_total
        ),
    )


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    # json.load silently keeps the last of two equal keys, hiding a half-edited file.
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
