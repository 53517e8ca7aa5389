"""The words a patient sees: fingerprinting them, and swapping in a clinic's licensed wording.

A clinic that obtains the official wording of an instrument imports it as a file in
the definition format. The import may change only what patients read (and the
wording status and note staff see); the structure that scores depend on - item ids
and order, the answer scale, scoring, bands, subscales, cut-offs - must match the
shipped definition, so scores stay comparable across wordings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping

from survey.instruments.checks import (
    DefinitionError,
    is_language_code,
    is_list,
    per_language_field,
    require_fields,
    translations_field,
    version_field,
    wordings_field,
)
from survey.instruments.definition import Instrument
from survey.instruments.definition_file import definition_dict
from survey.instruments.loading import parse_definition

#: Fields a wording file must carry: everything a patient reads, per language.
WORDING_FIELDS: tuple[str, ...] = (
    "id",
    "languages",
    "wording",
    "title",
    "instructions",
    "recall_period",
    "options",
    "items",
)

#: Staff-only names beside scores, by kind of entry: a wording file may translate them for the
#: languages it lists (`labels`), never add, remove or re-range an entry.
LABELLED_FIELDS: tuple[str, ...] = ("bands", "subscales", "cutoffs")

#: Fields a wording file may repeat, but only unchanged: they decide how answers are scored.
STRUCTURE_FIELDS: tuple[str, ...] = (
    "citation",
    "scoring",
    "higher_is_worse",
    "minimal_important_change",
    "bands",
    "bands_citation",
    "subscales",
    "cutoffs",
)

#: Fields a wording file may carry and that the import ignores. An exported definition
#: carries its `version`; the instrument keeps the shipped one, and the wording's own
#: version goes in `wording_version`. Not compared, so a file exported from an older
#: definition still imports when only wording was changed since.
IGNORED_FIELDS: tuple[str, ...] = ("version",)


def imported_version(base_version: str, number: int) -> str:
    """The wording version of the `number`-th import of an instrument whose file names none,
    so that no two wordings share a version: "1.0-import-1", "1.0-import-2"."""
    return f"{base_version}-import-{number}"


def wording_states(base: Instrument, overlays: Iterable[Mapping[str, object]]):
    """The shipped instrument, then the instrument after each stored import in turn: every
    wording it has been used with (imports add up, so each state is the one before reworded)."""
    state = base
    yield state
    for number, overlay in enumerate(overlays, start=1):
        if overlay.get("wording_version") is None:
            overlay = {**overlay, "wording_version": imported_version(base.version, number)}
        state = apply_wording(state, overlay)
        yield state


def apply_wording(base: Instrument, data: Mapping[str, object]) -> Instrument:
    """Return `base` with the languages in `data` reworded; `base` itself is never changed.

    Raises DefinitionError (one line, naming the field) when the file is for
    another instrument, changes the structure, or lacks a text.
    """
    try:
        return parse_definition(_merged_definition(base, data))
    except DefinitionError as error:
        raise DefinitionError(f"wording file for {base.id}: {error}") from None


def wording_overlay(base: Instrument, data: Mapping[str, object]) -> dict:
    """Check `data` as apply_wording does and return only its wording, for storing.

    The overlay leaves out the structure fields a file may repeat, so a stored overlay
    still applies after the shipped definition changes anything but items and scale.
    """
    apply_wording(base, data)
    kept = (*WORDING_FIELDS, "wording_version", "labels")
    return copy.deepcopy({name: data[name] for name in kept if name in data})


def _merged_definition(base: Instrument, data: Mapping[str, object]) -> dict:
    require_fields(
        data,
        "wording file",
        required=WORDING_FIELDS,
        optional=("wording_version", "labels", *STRUCTURE_FIELDS, *IGNORED_FIELDS),
    )
    if data["id"] != base.id:
        raise DefinitionError(f"id: the file is for {data['id']!r}, not {base.id!r}")
    merged = definition_dict(base)
    for name in STRUCTURE_FIELDS:
        if name in data and _canonical(data[name]) != _canonical(merged[name]):
            hint = (
                " (put the wording's own version in wording_version)" if name == "version" else ""
            )
            raise DefinitionError(
                f"the import changes wording only; {name} differs from the shipped definition{hint}"
            )
    languages = _languages(data["languages"], base)
    _same_structure(data, base)
    wording_version = (
        version_field(data, "wording_version") if data.get("wording_version") is not None else None
    )

    titles = translations_field(data["title"], languages, "title").as_dict()
    instructions = translations_field(data["instructions"], languages, "instructions").as_dict()
    recall = (
        dict.fromkeys(languages)
        if data["recall_period"] is None
        else per_language_field(data["recall_period"], languages, "recall_period")
    )
    wordings = dict(wordings_field(data["wording"], languages))
    option_labels = [
        translations_field(entry["label"], languages, f"options[{index}].label").as_dict()
        for index, entry in enumerate(data["options"])
    ]
    item_texts = [
        translations_field(entry["text"], languages, f"items[{index}].text").as_dict()
        for index, entry in enumerate(data["items"])
    ]

    staff_labels = _labels(data.get("labels", {}), merged, languages)

    if merged["recall_period"] is None:
        merged["recall_period"] = dict.fromkeys(base.languages)
    for lang in languages:
        if lang not in base.languages:
            _add_language(merged, base, lang)
        for name, entry_id, texts in staff_labels:
            _entry(merged[name], entry_id)["label"][lang] = texts[lang]
        merged["title"][lang] = titles[lang]
        merged["instructions"][lang] = instructions[lang]
        merged["recall_period"][lang] = recall[lang]
        wording = wordings[lang]
        merged["wording"][lang] = {"status": wording.status, "note": wording.note}
        version = wording.version or wording_version
        if version is not None:
            merged["wording"][lang]["version"] = version
        for option, labels in zip(merged["options"], option_labels, strict=True):
            option["label"][lang] = labels[lang]
        for item, texts in zip(merged["items"], item_texts, strict=True):
            item["text"][lang] = texts[lang]
    return merged


def _labels(value: object, merged: dict, languages: tuple[str, ...]) -> list:
    """The optional `labels` field: {"bands" | "subscales" | "cutoffs": {entry id: text}},
    each text given in every language the file lists. Returns (field, id, texts) triples."""
    if not isinstance(value, Mapping):
        raise DefinitionError("labels: must be an object")
    found = []
    for name, entries in value.items():
        if name not in LABELLED_FIELDS:
            raise DefinitionError(
                f"labels: unknown field {str(name)[:40]!r} (one of {', '.join(LABELLED_FIELDS)})"
            )
        if not isinstance(entries, Mapping):
            raise DefinitionError(f"labels.{name}: must be an object of entry id to text")
        known = [entry["id"] for entry in merged[name]]
        for entry_id, texts in entries.items():
            if entry_id not in known:
                raise DefinitionError(
                    f"labels.{name}: {str(entry_id)[:40]!r} is not one of the instrument's "
                    f"{name} ({', '.join(known) or 'none'})"
                )
            where = f"labels.{name}.{entry_id}"
            found.append((name, entry_id, translations_field(texts, languages, where).as_dict()))
    return found


def _entry(entries: list, entry_id: str) -> dict:
    return next(entry for entry in entries if entry["id"] == entry_id)


def _add_language(merged: dict, base: Instrument, lang: str) -> None:
    """Make room for a language the instrument did not speak. What patients read comes from
    the file; the names staff read beside scores (bands, subscales, cut-offs) come from its
    `labels`, and any it does not translate stay in the instrument's first language."""
    merged["languages"].append(lang)
    source = base.languages[0]
    for name in ("bands", "subscales", "cutoffs"):
        for entry in merged[name]:
            entry["label"][lang] = entry["label"][source]


def _languages(value: object, base: Instrument) -> tuple[str, ...]:
    """The languages a file words: the instrument's own (reworded), or new ones (added)."""
    if not is_list(value) or not value:
        raise DefinitionError("languages: must list the languages the file rewords")
    for lang in value:
        if lang not in base.languages and not is_language_code(lang):
            raise DefinitionError(
                f"languages: {str(lang)[:16]!r} is not a language code (such as fr or pt_BR)"
            )
    if len(set(value)) != len(value):
        raise DefinitionError("languages: a language is listed twice")
    return tuple(value)


def _same_structure(data: Mapping[str, object], base: Instrument) -> None:
    items, options = data["items"], data["options"]
    for name, entries in (("items", items), ("options", options)):
        if not is_list(entries) or not all(isinstance(entry, Mapping) for entry in entries):
            raise DefinitionError(f"{name}: must be a list of objects")
    for index, entry in enumerate(items):
        require_fields(entry, f"items[{index}]", required=("id", "text"))
    for index, entry in enumerate(options):
        require_fields(entry, f"options[{index}]", required=("value", "label"))

    expected_ids = [item.id for item in base.items]
    ids = [entry["id"] for entry in items]
    if ids != expected_ids:
        raise DefinitionError(
            f"items: must be {', '.join(expected_ids)} in this order; the file has "
            f"{', '.join(map(str, ids)) or 'none'}"
        )
    expected_values = [option.value for option in base.options]
    values = [entry["value"] for entry in options]
    # Compared as JSON so that true/1 or 2.0/2 count as a different scale.
    if _canonical(values) != _canonical(expected_values):
        raise DefinitionError(
            f"options: the scale must be {expected_values}; the file has {values}"
        )


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
