"""A definition file is checked field by field; a broken one is refused with a one-line reason."""

import json
from pathlib import Path

import pytest

import survey.instruments
from survey.instruments import (
    DefinitionError,
    apply_wording,
    get_instrument,
    load_definition,
    shipped_language_files,
)
from survey.instruments.definition_file import definition_dict

from .builders import write_json

DEFINITIONS = Path(survey.instruments.__file__).parent / "definitions"


def test_a_shipped_file_loaded_by_path_with_its_language_files_is_the_shipped_instrument(
    qolaf, ccis
):
    for instrument in (qolaf, ccis):
        path = DEFINITIONS / f"{instrument.id}.json"
        loaded = load_definition(str(path))
        added = shipped_language_files(instrument.id)
        assert [data["languages"] for data in added] == [["ar"], ["it"], ["pt_BR"]]
        for data in added:
            loaded = apply_wording(loaded, data)
        assert loaded == instrument


@pytest.mark.parametrize("instrument_id", ["qolaf-q", "ccis"])
def test_an_instrument_exported_with_to_dict_loads_back_unchanged(instrument_id):
    instrument = get_instrument(instrument_id)

    assert load_definition(definition_dict(instrument)) == instrument


def test_to_dict_is_the_definition_file_as_shipped(qolaf, ccis):
    for instrument in (qolaf, ccis):
        path = DEFINITIONS / f"{instrument.id}.json"
        on_disk = json.loads(path.read_text(encoding="utf-8"))
        assert definition_dict(load_definition(path)) == on_disk


def test_to_dict_hands_out_a_copy_that_cannot_change_the_instrument(qolaf):
    exported = definition_dict(qolaf)
    exported["items"][0]["text"]["en"] = "Changed"
    exported["bands"].clear()

    assert qolaf.items[0].text("en") != "Changed"
    assert len(qolaf.bands) == 5


def set_(path, value):
    """A change to a definition dict: set the field at `path` (keys and list indexes) to `value`."""

    def change(definition):
        *parents, last = path
        for key in parents:
            definition = definition[key]
        definition[last] = value

    return change


def delete(path):
    """A change to a definition dict: remove the field at `path`."""

    def change(definition):
        *parents, last = path
        for key in parents:
            definition = definition[key]
        del definition[last]

    return change


def append(path, value):
    """A change to a definition dict: append `value` to the list at `path`."""

    def change(definition):
        for key in path:
            definition = definition[key]
        definition.append(value)

    return change


QOLAF_REFUSALS = [
    # (what is wrong, the change, the reason given)
    ("missing field", delete(["citation"]), "definition: missing field 'citation'"),
    ("misspelt field", set_(["item"], []), "definition: unknown field 'item'"),
    ("id with spaces", set_(["id"], "QoLAF Q"), "id: 'QoLAF Q' is not an id"),
    ("empty version", set_(["version"], " "), "version: must be non-empty text"),
    ("not a language code", append(["languages"], "french"), "languages: 'french' is not a"),
    ("unknown language", append(["languages"], "qq"), "languages: 'qq' is not a language code"),
    ("a language without its texts", append(["languages"], "fr"), "missing the 'fr' text"),
    ("no languages", set_(["languages"], []), "languages: must be a non-empty list"),
    ("language twice", set_(["languages"], ["en", "en"]), "languages: a language is listed twice"),
    (
        "duplicate item ids",
        set_(["items", 1, "id"], "q1"),
        "items[1].id: 'q1' is used twice",
    ),
    (
        "missing translation",
        delete(["items", 3, "text", "tr"]),
        "items[3].text: missing the 'tr' text",
    ),
    ("empty translation", set_(["instructions", "es"], "  "), "instructions.es: must be non-empty"),
    (
        "text in an unlisted language",
        set_(["title", "fr"], "Questionnaire"),
        "title: has a 'fr' text but 'fr' is not in languages",
    ),
    (
        "missing option label",
        delete(["options", 4, "label", "es"]),
        "options[4].label: missing the 'es' text",
    ),
    (
        "recall period of the wrong type",
        set_(["recall_period", "tr"], 4),
        "recall_period.tr: must be non-empty text or null",
    ),
    (
        "unknown wording status",
        set_(["wording", "en", "status"], "official"),
        "wording.en.status: 'official' is not one of validated, unvalidated translation, "
        "provisional",
    ),
    (
        "wording without a note",
        delete(["wording", "tr", "note"]),
        "wording.tr: missing field 'note'",
    ),
    (
        "wording for a language missing",
        delete(["wording", "es"]),
        "wording: missing the 'es' entry",
    ),
    (
        "bad scoring method",
        set_(["scoring"], {"method": "mean"}),
        "scoring.method: 'mean' is not supported (supported: sum)",
    ),
    (
        "scoring with weights",
        set_(["scoring", "weights"], [1] * 14),
        "scoring: unknown field 'weights'",
    ),
    (
        "gap in the answer scale",
        set_(["options", 2, "value"], 4),
        "options: values must be consecutive whole numbers in ascending order, got [1, 2, 4, 4, 5]",
    ),
    ("fractional option value", set_(["options", 0, "value"], 1.0), "options[0].value: must be a"),
    ("true as an option value", set_(["options", 0, "value"], True), "options[0].value: must be a"),
    ("a one-answer scale", set_(["options"], []), "options: must be a list of at least two"),
    ("no items", set_(["items"], []), "items: must be a non-empty list"),
    ("gap in bands", set_(["bands", 2, "min"], 30), "bands: no band covers 29"),
    ("wider gap in bands", set_(["bands", 2, "min"], 33), "bands: no band covers 29-32"),
    (
        "overlapping bands",
        set_(["bands", 2, "min"], 28),
        "bands: 'moderate' starts at 28, overlapping the band before it",
    ),
    (
        "bands starting below the lowest total",
        set_(["bands", 0, "min"], 13),
        "bands: 'none' starts at 13, below the lowest total 14",
    ),
    (
        "bands stopping short",
        set_(["bands", 4, "max"], 69),
        "bands: the last band ends at 69, but totals run to 70",
    ),
    (
        "bands running past the highest total",
        set_(["bands", 4, "max"], 71),
        "bands: the last band ends at 71, but totals run to 70",
    ),
    ("band upside down", set_(["bands", 1, "max"], 14), "bands[1]: min 15 is above max 14"),
    ("band id twice", set_(["bands", 1, "id"], "none"), "bands[1].id: 'none' is used twice"),
    ("bands without a citation", set_(["bands_citation"], None), "bands_citation: bands need"),
    (
        "subscale naming a missing item",
        append(["subscales", 0, "items"], "q15"),
        "subscales[0].items: 'q15' is not an item",
    ),
    (
        "overlapping subscales",
        append(["subscales", 1, "items"], "q1"),
        "subscales[1].items: 'q1' is already in subscale 'physical'",
    ),
    (
        "item twice in a subscale",
        append(["subscales", 0, "items"], "q1"),
        "subscales[0].items: 'q1' is listed twice",
    ),
    (
        "provisional subscale without a note",
        delete(["subscales", 0, "note"]),
        "subscales[0].note: a provisional subscale needs a note saying why",
    ),
    (
        "subscale not saying whether it is provisional",
        delete(["subscales", 1, "provisional"]),
        "subscales[1]: missing field 'provisional'",
    ),
    ("higher_is_worse as text", set_(["higher_is_worse"], "yes"), "higher_is_worse: must be true"),
]


@pytest.mark.parametrize(
    ("change", "reason"),
    [case[1:] for case in QOLAF_REFUSALS],
    ids=[case[0] for case in QOLAF_REFUSALS],
)
def test_a_broken_qolaf_definition_is_refused_with_the_field_at_fault(
    qolaf_definition, change, reason
):
    change(qolaf_definition)

    with pytest.raises(DefinitionError) as refused:
        load_definition(qolaf_definition)

    message = str(refused.value)
    assert message.startswith("definition ")
    assert reason in message
    assert "\n" not in message


CCIS_REFUSALS = [
    (
        "cut-off of an unknown kind",
        set_(["cutoffs", 0, "kind"], "official"),
        "cutoffs[0].kind: 'official' is not one of commonly cited",
    ),
    (
        "cut-off above the highest total",
        set_(["cutoffs", 0, "min_total"], 21),
        "cutoffs[0].min_total: 21 is not between 1 and 20",
    ),
    (
        "cut-off without a citation",
        delete(["cutoffs", 0, "citation"]),
        "cutoffs[0]: missing field 'citation'",
    ),
    (
        "cut-offs out of order",
        append(
            ["cutoffs"],
            {
                "id": "mild",
                "min_total": 1,
                "label": {"en": "a", "es": "b", "tr": "c"},
                "citation": "x",
                "kind": "commonly cited",
            },
        ),
        "cutoffs[1].min_total: cut-offs must be in ascending order",
    ),
    (
        "band without a citation",
        set_(
            ["bands"],
            [
                {
                    "id": "all",
                    "min": 0,
                    "max": 20,
                    "label": {"en": "a", "es": "b", "tr": "c", "ar": "d", "it": "e", "pt_BR": "f"},
                }
            ],
        ),
        "bands_citation: bands need a citation",
    ),
    ("bands not a list", set_(["bands"], None), "bands: must be a list"),
]


@pytest.mark.parametrize(
    ("change", "reason"),
    [case[1:] for case in CCIS_REFUSALS],
    ids=[case[0] for case in CCIS_REFUSALS],
)
def test_a_broken_ccis_definition_is_refused_with_the_field_at_fault(
    ccis_definition, change, reason
):
    change(ccis_definition)

    with pytest.raises(DefinitionError, match="^definition 'ccis': ") as refused:
        load_definition(ccis_definition)

    assert reason in str(refused.value)


def test_the_qolaf_table_of_refusals_starts_from_a_definition_that_loads(qolaf_definition):
    assert load_definition(qolaf_definition).id == "qolaf-q"


def test_a_definition_may_state_no_recall_period(ccis_definition):
    ccis_definition["recall_period"] = None

    instrument = load_definition(ccis_definition)

    assert instrument.recall_period("tr") is None


def test_a_file_naming_a_key_twice_is_refused_rather_than_silently_keeping_one(tmp_path):
    path = tmp_path / "twice.json"
    path.write_text('{"id": "ccis", "id": "qolaf-q"}', encoding="utf-8")

    with pytest.raises(DefinitionError, match=r"^twice.json: the key 'id' appears twice$"):
        load_definition(path)


def test_a_file_that_is_not_json_is_refused_with_the_line_at_fault(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "id": "ccis",\n}', encoding="utf-8")

    with pytest.raises(
        DefinitionError, match=r"^broken.json: not valid JSON: .*\(line 3, column 1\)"
    ):
        load_definition(path)


def test_a_file_that_is_a_list_is_refused(tmp_path):
    with pytest.raises(DefinitionError, match="must hold one JSON object"):
        load_definition(write_json(tmp_path / "list.json", []))


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(DefinitionError, match="cannot read the file"):
        load_definition(tmp_path / "nowhere.json")


def test_a_broken_file_is_named_in_the_refusal(tmp_path, ccis_definition):
    ccis_definition["scoring"] = {"method": "weighted"}

    with pytest.raises(DefinitionError, match=r"^mine.json: scoring.method: 'weighted'"):
        load_definition(write_json(tmp_path / "mine.json", ccis_definition))
