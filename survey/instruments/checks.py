"""One checker per field of the definition file format, each naming the field it refuses.

Used by loading.py to build an Instrument and by licensed_wording.py to check an imported
wording file, so both refuse the same mistakes with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from survey.characters import refused_characters
from survey.instruments.definition import (
    CUTOFF_KINDS,
    LANGUAGE_CODE,
    WORDING_STATUSES,
    Band,
    Cutoff,
    Item,
    MinimalImportantChange,
    Option,
    Subscale,
    Translations,
    Wording,
)

_IDENTIFIER = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LANGUAGE_CODE = re.compile(LANGUAGE_CODE)


def is_language_code(value: object) -> bool:
    """Whether `value` is a language code Babel knows ("fr", "pt_BR")."""
    # Babel is imported here only: the rest of the package needs nothing beyond the stdlib.
    from babel import Locale, UnknownLocaleError

    if not isinstance(value, str) or not _LANGUAGE_CODE.fullmatch(value):
        return False
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        return False
    return True


class DefinitionError(ValueError):
    """A definition or wording file that cannot be used; the message names the field at fault."""


# -- one checker per kind of field ---------------------------------------------


def languages_field(value: object) -> tuple[str, ...]:
    """The `languages` list: language codes, none twice."""
    if not is_list(value) or not value:
        raise DefinitionError("languages: must be a non-empty list of language codes")
    for lang in value:
        if not is_language_code(lang):
            raise DefinitionError(
                f"languages: {str(lang)[:16]!r} is not a language code (such as fr or pt_BR)"
            )
    if len(set(value)) != len(value):
        raise DefinitionError("languages: a language is listed twice")
    return tuple(value)


def translations_field(value: object, languages: Sequence[str], where: str) -> Translations:
    """A text given once per language, each non-empty."""
    texts = per_language_field(value, languages, where)
    for lang, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise DefinitionError(f"{where}.{lang}: must be non-empty text")
        _readable(text, f"{where}.{lang}")
    return Translations.of(texts)


def per_language_field(
    value: object, languages: Sequence[str], where: str, what: str = "text"
) -> dict[str, object]:
    """An object with exactly one entry per language, in `languages` order."""
    if not isinstance(value, Mapping):
        raise DefinitionError(f"{where}: must be an object with one entry per language")
    for lang in languages:
        if lang not in value:
            raise DefinitionError(f"{where}: missing the {lang!r} {what}")
    for lang in value:
        if lang not in languages:
            raise DefinitionError(
                f"{where}: has a {lang!r} {what} but {lang!r} is not in languages"
            )
    # Rebuilt in `languages` order so equal definitions compare and export equal.
    return {lang: value[lang] for lang in languages}


def recall_periods_field(
    value: object, languages: Sequence[str]
) -> tuple[tuple[str, str | None], ...]:
    """The `recall_period`: null, or per language a text or null."""
    if value is None:
        return tuple((lang, None) for lang in languages)
    periods = per_language_field(value, languages, "recall_period")
    for lang, text in periods.items():
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise DefinitionError(f"recall_period.{lang}: must be non-empty text or null")
    return tuple(periods.items())


def wordings_field(value: object, languages: Sequence[str]) -> tuple[tuple[str, Wording], ...]:
    """The `wording` block: per language a status, a note and an optional version."""
    wordings = []
    for lang, entry in per_language_field(value, languages, "wording", "entry").items():
        where = f"wording.{lang}"
        require_fields(entry, where, required=("status", "note"), optional=("version",))
        if entry["status"] not in WORDING_STATUSES:
            raise DefinitionError(
                f"{where}.status: {entry['status']!r} is not one of {', '.join(WORDING_STATUSES)}"
            )
        version = version_field(entry, "version", where) if "version" in entry else None
        wordings.append((lang, Wording(entry["status"], text_field(entry, "note", where), version)))
    return tuple(wordings)


def options_field(value: object, languages: Sequence[str]) -> tuple[Option, ...]:
    """The answer scale: at least two options with consecutive ascending values."""
    if not is_list(value) or len(value) < 2:
        raise DefinitionError("options: must be a list of at least two answers")
    options = []
    for index, entry in enumerate(value):
        where = f"options[{index}]"
        require_fields(entry, where, required=("value", "label"))
        number = integer_field(entry, "value", where)
        options.append(
            Option(number, translations_field(entry["label"], languages, f"{where}.label"))
        )
    values = [option.value for option in options]
    if values != list(range(values[0], values[0] + len(values))):
        raise DefinitionError(
            f"options: values must be consecutive whole numbers in ascending order, got {values}"
        )
    return tuple(options)


def items_field(value: object, languages: Sequence[str]) -> tuple[Item, ...]:
    """The questions, in order, with unique ids and a text in every language."""
    if not is_list(value) or not value:
        raise DefinitionError("items: must be a non-empty list")
    items: list[Item] = []
    for index, entry in enumerate(value):
        where = f"items[{index}]"
        require_fields(entry, where, required=("id", "text"))
        item_id = identifier_field(entry, "id", where)
        if any(item.id == item_id for item in items):
            raise DefinitionError(f"{where}.id: {item_id!r} is used twice")
        texts = translations_field(entry["text"], languages, f"{where}.text")
        items.append(Item(item_id, index + 1, texts))
    return tuple(items)


def bands_field(
    value: object, languages: Sequence[str], min_total: int, max_total: int
) -> tuple[Band, ...]:
    """Named ranges of the total that tile min_total..max_total exactly."""
    if not is_list(value):
        raise DefinitionError("bands: must be a list (empty when there are none)")
    bands: list[Band] = []
    for index, entry in enumerate(value):
        where = f"bands[{index}]"
        require_fields(entry, where, required=("id", "min", "max", "label"))
        band = Band(
            _unique_id(entry, where, bands),
            integer_field(entry, "min", where),
            integer_field(entry, "max", where),
            translations_field(entry["label"], languages, f"{where}.label"),
        )
        if band.min > band.max:
            raise DefinitionError(f"{where}: min {band.min} is above max {band.max}")
        bands.append(band)
    # Bands must tile the range exactly, so every possible total has exactly one band.
    expected_start = min_total
    for band in bands:
        if band.min > expected_start:
            gap = (
                f"{expected_start}-{band.min - 1}"
                if band.min - 1 > expected_start
                else band.min - 1
            )
            raise DefinitionError(f"bands: no band covers {gap}")
        if band.min < expected_start:
            raise DefinitionError(
                f"bands: {band.id!r} starts at {band.min}, overlapping the band before it"
                if band is not bands[0]
                else f"bands: {band.id!r} starts at {band.min}, below the lowest total {min_total}"
            )
        expected_start = band.max + 1
    if bands and expected_start != max_total + 1:
        raise DefinitionError(
            f"bands: the last band ends at {expected_start - 1}, but totals run to {max_total}"
        )
    return tuple(bands)


def subscales_field(
    value: object, languages: Sequence[str], item_ids: list[str]
) -> tuple[Subscale, ...]:
    """Groups of existing items, no item in two groups; provisional ones explained."""
    if not is_list(value):
        raise DefinitionError("subscales: must be a list (empty when there are none)")
    subscales: list[Subscale] = []
    for index, entry in enumerate(value):
        where = f"subscales[{index}]"
        require_fields(
            entry, where, required=("id", "label", "items", "provisional"), optional=("note",)
        )
        members = entry["items"]
        if not is_list(members) or not members:
            raise DefinitionError(f"{where}.items: must be a non-empty list of item ids")
        for item_id in members:
            if item_id not in item_ids:
                raise DefinitionError(f"{where}.items: {item_id!r} is not an item")
            if members.count(item_id) > 1:
                raise DefinitionError(f"{where}.items: {item_id!r} is listed twice")
            for other in subscales:
                if item_id in other.item_ids:
                    raise DefinitionError(
                        f"{where}.items: {item_id!r} is already in subscale {other.id!r}"
                    )
        if not isinstance(entry["provisional"], bool):
            raise DefinitionError(f"{where}.provisional: must be true or false")
        note = text_field(entry, "note", where) if "note" in entry else None
        if entry["provisional"] and note is None:
            raise DefinitionError(f"{where}.note: a provisional subscale needs a note saying why")
        subscales.append(
            Subscale(
                _unique_id(entry, where, subscales),
                translations_field(entry["label"], languages, f"{where}.label"),
                tuple(members),
                entry["provisional"],
                note,
            )
        )
    return tuple(subscales)


def cutoffs_field(
    value: object, languages: Sequence[str], min_total: int, max_total: int
) -> tuple[Cutoff, ...]:
    """Commonly cited thresholds on the total, ascending, each with a citation."""
    if not is_list(value):
        raise DefinitionError("cutoffs: must be a list (empty when there are none)")
    cutoffs: list[Cutoff] = []
    for index, entry in enumerate(value):
        where = f"cutoffs[{index}]"
        require_fields(entry, where, required=("id", "min_total", "label", "citation", "kind"))
        threshold = integer_field(entry, "min_total", where)
        if not min_total < threshold <= max_total:
            raise DefinitionError(
                f"{where}.min_total: {threshold} is not between {min_total + 1} and {max_total}"
            )
        if cutoffs and threshold <= cutoffs[-1].min_total:
            raise DefinitionError(f"{where}.min_total: cut-offs must be in ascending order")
        if entry["kind"] not in CUTOFF_KINDS:
            raise DefinitionError(
                f"{where}.kind: {entry['kind']!r} is not one of {', '.join(CUTOFF_KINDS)}"
            )
        cutoffs.append(
            Cutoff(
                _unique_id(entry, where, cutoffs),
                threshold,
                translations_field(entry["label"], languages, f"{where}.label"),
                text_field(entry, "citation", where),
                entry["kind"],
            )
        )
    return tuple(cutoffs)


def minimal_important_change_field(value: object, span: int) -> MinimalImportantChange | None:
    """The `minimal_important_change`: null, or whole points each way with their source."""
    if value is None:
        return None
    where = "minimal_important_change"
    require_fields(
        value,
        where,
        required=("improvement", "deterioration", "deterioration_extrapolated", "citation"),
    )
    points = {}
    for name in ("improvement", "deterioration"):
        points[name] = integer_field(value, name, where)
        if not 1 <= points[name] <= span:
            raise DefinitionError(f"{where}.{name}: {points[name]} is not between 1 and {span}")
    if not isinstance(value["deterioration_extrapolated"], bool):
        raise DefinitionError(f"{where}.deterioration_extrapolated: must be true or false")
    return MinimalImportantChange(
        improvement=points["improvement"],
        deterioration=points["deterioration"],
        deterioration_extrapolated=value["deterioration_extrapolated"],
        citation=text_field(value, "citation", where),
    )


# -- small shared checks ---------------------------------------------------------


def require_fields(
    entry: object, where: str, required: Sequence[str], optional: Sequence[str] = ()
) -> None:
    """An object with every required field and no field outside `optional`."""
    if not isinstance(entry, Mapping):
        raise DefinitionError(f"{where}: must be an object")
    for name in required:
        if name not in entry:
            raise DefinitionError(f"{where}: missing field {name!r}")
    for name in entry:
        if name not in required and name not in optional:
            raise DefinitionError(f"{where}: unknown field {name!r}")


def text_field(entry: Mapping, name: str, where: str = "") -> str:
    """A non-empty string field."""
    value = entry[name]
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{_join(where, name)}: must be non-empty text")
    _readable(value, _join(where, name))
    return value


def _readable(value: str, where: str) -> None:
    """Patients read these texts: no control, invisible or direction-changing characters (line
    breaks and tabs are allowed; the pages fold them into spaces)."""
    if found := refused_characters(value, lines=True):
        raise DefinitionError(
            f"{where}: holds control, invisible or direction-changing characters "
            f"({', '.join(found[:3])})"
        )


#: The longest wording version stored with a response.
MAX_VERSION_LENGTH = 64


def version_field(entry: Mapping, name: str, where: str = "") -> str:
    """A version label: non-empty text of at most MAX_VERSION_LENGTH characters."""
    value = text_field(entry, name, where)
    if len(value) > MAX_VERSION_LENGTH:
        raise DefinitionError(
            f"{_join(where, name)}: at most {MAX_VERSION_LENGTH} characters, got {len(value)}"
        )
    return value


def integer_field(entry: Mapping, name: str, where: str) -> int:
    """A whole-number field (JSON true/false refused)."""
    value = entry[name]
    # bool is an int subclass in Python; JSON true must not count as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise DefinitionError(f"{_join(where, name)}: must be a whole number, got {value!r}")
    return value


def identifier_field(entry: Mapping, name: str, where: str = "") -> str:
    """An id: lower-case letters and digits, words joined by "-"."""
    value = entry[name]
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise DefinitionError(
            f"{_join(where, name)}: {value!r} is not an id "
            "(lower-case letters and digits, words joined by '-')"
        )
    return value


def _unique_id(entry: Mapping, where: str, earlier: Sequence) -> str:
    value = identifier_field(entry, "id", where)
    if any(other.id == value for other in earlier):
        raise DefinitionError(f"{where}.id: {value!r} is used twice")
    return value


def is_list(value: object) -> bool:
    """Whether `value` is a JSON array (or a tuple from Python code)."""
    return isinstance(value, list | tuple)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
