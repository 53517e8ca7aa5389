"""What the patient read is fingerprinted; licensed wording changes the words, never the scoring."""

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest

import survey.instruments
from survey.instruments import (
    DefinitionError,
    apply_wording,
    fingerprint,
    get_instrument,
    load_definition,
    read_definition_file,
    scoring,
    wording_overlay,
)
from survey.instruments.definition_file import definition_dict

from .builders import answers_totalling, wording_file, write_json

DEFINITIONS = Path(survey.instruments.__file__).parent / "definitions"


# -- wording_hash ----------------------------------------------------------------


def test_the_wording_hash_is_sha256_of_the_documented_canonical_json(ccis):
    shown = {
        "title": ccis.title("es"),
        "instructions": ccis.instructions("es"),
        "recall_period": ccis.recall_period("es"),
        "items": [item.text("es") for item in ccis.items],
        "options": [{"value": o.value, "label": o.label("es")} for o in ccis.options],
    }
    canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"))

    assert (
        fingerprint.wording_hash(ccis, "es")
        == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    )


@pytest.mark.parametrize("instrument_id", ["qolaf-q", "ccis"])
def test_the_wording_hash_is_the_same_every_time_the_file_is_loaded(instrument_id):
    first = load_definition(DEFINITIONS / f"{instrument_id}.json")
    second = load_definition(DEFINITIONS / f"{instrument_id}.json")

    assert first is not second
    assert first.languages
    for lang in first.languages:
        assert fingerprint.wording_hash(first, lang) == fingerprint.wording_hash(second, lang)
        assert fingerprint.wording_hash(first, lang) == fingerprint.wording_hash(
            get_instrument(instrument_id), lang
        )


@pytest.mark.parametrize("instrument_id", ["qolaf-q", "ccis"])
def test_each_language_has_its_own_wording_hash(instrument_id):
    instrument = get_instrument(instrument_id)

    hashes = {fingerprint.wording_hash(instrument, lang) for lang in instrument.languages}

    assert len(instrument.languages) >= 2
    assert len(hashes) == len(instrument.languages)
    assert all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes), hashes


def reword(path):
    """A change to what the patient sees at `path`, in Spanish."""

    def change(definition):
        target = definition
        for key in path:
            target = target[key]
        target["es"] = target["es"] + " (revisado)"

    return change


SHOWN_CHANGES = {
    "title": reword(["title"]),
    "instructions": reword(["instructions"]),
    "recall period": reword(["recall_period"]),
    "first item": reword(["items", 0, "text"]),
    "last item": reword(["items", 13, "text"]),
    "an answer label": reword(["options", 2, "label"]),
}


def drop_spanish_recall_period(definition):
    definition["recall_period"]["es"] = None


@pytest.mark.parametrize(
    "change",
    [*SHOWN_CHANGES.values(), drop_spanish_recall_period],
    ids=[*SHOWN_CHANGES, "no recall period"],
)
def test_changing_anything_the_patient_sees_changes_the_wording_hash(qolaf_definition, change):
    before = load_definition(qolaf_definition)
    change(qolaf_definition)

    after = load_definition(qolaf_definition)

    assert fingerprint.wording_hash(after, "es") != fingerprint.wording_hash(before, "es")
    assert fingerprint.wording_hash(after, "en") == fingerprint.wording_hash(before, "en")


def test_storing_different_values_for_the_same_labels_changes_the_wording_hash(ccis_definition):
    before = load_definition(ccis_definition)
    for option in ccis_definition["options"]:
        option["value"] += 1

    after = load_definition(ccis_definition)

    assert [o.value for o in after.options] == [1, 2, 3, 4, 5]
    assert fingerprint.wording_hash(after, "en") != fingerprint.wording_hash(before, "en")


def swap_items(definition):
    items = definition["items"]
    items[0]["text"], items[1]["text"] = items[1]["text"], items[0]["text"]


def test_asking_the_same_questions_in_another_order_changes_the_wording_hash(qolaf_definition):
    before = load_definition(qolaf_definition)
    swap_items(qolaf_definition)

    assert fingerprint.wording_hash(
        load_definition(qolaf_definition), "tr"
    ) != fingerprint.wording_hash(before, "tr")


def test_what_only_staff_see_does_not_change_the_wording_hash(qolaf_definition):
    before = load_definition(qolaf_definition)
    qolaf_definition["wording"]["es"]["note"] = "Another note."
    qolaf_definition["wording"]["es"]["status"] = "validated"
    qolaf_definition["bands"][0]["label"]["es"] = "Ninguno"
    qolaf_definition["citation"] = "Another citation."

    assert fingerprint.wording_hash(
        load_definition(qolaf_definition), "es"
    ) == fingerprint.wording_hash(before, "es")


# -- apply_wording -----------------------------------------------------------------


def official(text):
    return f"[oficial] {text}"


def test_a_clinic_imports_official_spanish_wording(qolaf):
    data = wording_file(qolaf, ["es"], reword=official) | {"wording_version": "2017-es"}

    imported = apply_wording(qolaf, data)

    assert imported.title("es") == official(qolaf.title("es"))
    assert imported.item("q7").text("es") == official(qolaf.item("q7").text("es"))
    assert imported.options[4].label("es") == official(qolaf.options[4].label("es"))
    assert imported.recall_period("es") == official(qolaf.recall_period("es"))
    assert imported.wording_status("es") == "validated"
    assert imported.wording_note("es") == "Official es wording, licensed."
    assert imported.wording_version("es") == "2017-es"
    assert fingerprint.wording_hash(imported, "es") != fingerprint.wording_hash(qolaf, "es")


def test_languages_not_in_the_file_keep_the_shipped_wording(qolaf):
    imported = apply_wording(qolaf, wording_file(qolaf, ["es"], reword=official))

    for lang in ("en", "tr"):
        assert fingerprint.wording_hash(imported, lang) == fingerprint.wording_hash(qolaf, lang)
        assert imported.wording_status(lang) == "provisional"
        assert imported.wording_note(lang) == qolaf.wording_note(lang)
        assert imported.wording_version(lang) == qolaf.version == "1.0"


def test_importing_leaves_the_shipped_instrument_untouched(qolaf):
    before = copy.deepcopy(definition_dict(qolaf))

    apply_wording(qolaf, wording_file(qolaf, ["es", "tr"], reword=official))

    assert definition_dict(qolaf) == before
    assert get_instrument("qolaf-q") is qolaf
    assert qolaf.wording_status("es") == "provisional"


@pytest.mark.parametrize("total", [14, 28, 51, 70])
def test_the_same_answers_score_the_same_with_imported_wording(qolaf, total):
    imported = apply_wording(qolaf, wording_file(qolaf, ["es"], reword=official))
    answers = answers_totalling(qolaf, total)

    assert scoring.score(imported, answers) == scoring.score(qolaf, answers)
    assert imported.subscales == qolaf.subscales
    assert imported.bands == qolaf.bands


def test_a_file_may_repeat_the_structure_unchanged(ccis):
    full = definition_dict(ccis)
    full["items"][3]["text"]["tr"] = "Ne sıklıkla ped kullandınız?"

    imported = apply_wording(ccis, full)

    assert imported.item("pad").text("tr") == "Ne sıklıkla ped kullandınız?"
    assert imported.cutoffs == ccis.cutoffs


def test_an_imported_language_may_state_no_recall_period(ccis):
    data = wording_file(ccis, ["en"]) | {"recall_period": None}

    imported = apply_wording(ccis, data)

    assert imported.recall_period("en") is None
    assert imported.recall_period("es") == ccis.recall_period("es")


def test_a_wording_file_read_from_disk_can_be_imported(tmp_path, ccis):
    path = write_json(tmp_path / "ccis-tr.json", wording_file(ccis, ["tr"], reword=str.upper))

    imported = apply_wording(ccis, read_definition_file(path))

    assert imported.title("tr") == ccis.title("tr").upper()


def set_(key, value):
    def change(data):
        data[key] = value

    return change


def reverse_items(data):
    data["items"].reverse()


def drop_last_item(data):
    data["items"].pop()


def rename_item(data):
    data["items"][0]["id"] = "pain"


def shift_options(data):
    for option in data["options"]:
        option["value"] -= 1


def float_options(data):
    for option in data["options"]:
        option["value"] = float(option["value"])


def drop_spanish_title(data):
    del data["title"]["es"]


def drop_an_item_text(data):
    del data["items"][5]["text"]["es"]


def add_unlisted_text(data):
    data["instructions"]["en"] = "Please answer."


def with_structure(field, change):
    """A change that copies `field` from the shipped QoLAF-Q into the file and alters it."""

    def apply(data):
        value = copy.deepcopy(definition_dict(get_instrument("qolaf-q"))[field])
        data[field] = change(value)

    return apply


def widen_first_band(bands):
    bands[0]["max"], bands[1]["min"] = 15, 16
    return bands


def move_item_between_subscales(subscales):
    subscales[1]["items"].append(subscales[0]["items"].pop())
    return subscales


IMPORT_REFUSALS = [
    ("another instrument", set_("id", "ccis"), "id: the file is for 'ccis', not 'qolaf-q'"),
    ("items reordered", reverse_items, "items: must be q1, q2, q3"),
    ("an item left out", drop_last_item, "the file has q1, q2, q3, q4, q5"),
    ("an item renamed", rename_item, "the file has pain, q2"),
    ("a different scale", shift_options, "options: the scale must be [1, 2, 3, 4, 5]"),
    ("fractional scale", float_options, "the file has [1.0, 2.0"),
    ("a missing title", drop_spanish_title, "title: missing the 'es' text"),
    ("a missing item text", drop_an_item_text, "items[5].text: missing the 'es' text"),
    ("text for an unlisted language", add_unlisted_text, "instructions: has a 'en' text"),
    ("not a language code", set_("languages", ["Portuguese"]), "'Portuguese' is not a language"),
    ("no languages", set_("languages", []), "languages: must list the languages"),
    (
        "a wording status not allowed",
        set_("wording", {"es": {"status": "official", "note": "x"}}),
        "wording.es.status: 'official'",
    ),
    ("a misspelt field", set_("titel", {}), "wording file: unknown field 'titel'"),
    (
        "no recall period field",
        lambda data: data.pop("recall_period"),
        "missing field 'recall_period'",
    ),
    ("a changed scoring method", set_("scoring", {"method": "mean"}), "scoring differs"),
    ("changed bands", with_structure("bands", widen_first_band), "bands differs"),
    ("no bands", set_("bands", []), "bands differs"),
    (
        "changed subscales",
        with_structure("subscales", move_item_between_subscales),
        "subscales differs",
    ),
    ("added cut-offs", set_("cutoffs", [{"id": "x", "min_total": 30}]), "cutoffs differs"),
    ("direction reversed", set_("higher_is_worse", False), "higher_is_worse differs"),
    ("1 for true", set_("higher_is_worse", 1), "higher_is_worse differs"),
]


@pytest.mark.parametrize(
    ("change", "reason"),
    [case[1:] for case in IMPORT_REFUSALS],
    ids=[case[0] for case in IMPORT_REFUSALS],
)
def test_a_wording_file_that_does_more_than_reword_is_refused(qolaf, change, reason):
    data = wording_file(qolaf, ["es"], reword=official)
    change(data)

    with pytest.raises(DefinitionError) as refused:
        apply_wording(qolaf, data)

    message = str(refused.value)
    assert message.startswith("wording file for qolaf-q: ")
    assert reason in message
    assert "\n" not in message


def test_a_structure_change_is_refused_in_the_words_clinics_are_told(qolaf):
    data = wording_file(qolaf, ["es"]) | {"scoring": {"method": "mean"}}

    with pytest.raises(DefinitionError) as refused:
        apply_wording(qolaf, data)

    assert str(refused.value) == (
        "wording file for qolaf-q: the import changes wording only; "
        "scoring differs from the shipped definition"
    )


def test_the_table_of_import_refusals_starts_from_a_file_that_imports(qolaf):
    assert apply_wording(qolaf, wording_file(qolaf, ["es"], reword=official)).id == "qolaf-q"


def test_an_imported_wording_can_itself_be_reworded_again(qolaf):
    once = apply_wording(qolaf, wording_file(qolaf, ["tr"], reword=official))
    twice = apply_wording(once, wording_file(qolaf, ["tr"]))

    assert fingerprint.wording_hash(twice, "tr") == fingerprint.wording_hash(qolaf, "tr")
    assert twice.wording_status("tr") == "validated"


def test_an_instrument_with_imported_wording_exports_and_loads_back_unchanged(qolaf):
    data = wording_file(qolaf, ["tr"], reword=official) | {"wording_version": "tr-2023"}
    imported = apply_wording(qolaf, data)

    exported = definition_dict(imported)

    assert exported["wording"]["tr"]["version"] == "tr-2023"
    assert "version" not in exported["wording"]["en"]
    assert load_definition(exported) == imported


def test_a_file_exported_from_another_definition_version_still_imports(qolaf):
    data = wording_file(qolaf, ["es"], reword=official) | {"version": "0.9"}

    imported = apply_wording(qolaf, data)

    assert imported.version == "1.0"
    assert imported.wording_version("es") == "1.0"


# -- wording_overlay: what to store -------------------------------------------


def test_the_overlay_keeps_only_the_wording_of_a_full_file(ccis):
    full = definition_dict(ccis) | {"wording_version": "clinic-2"}
    full["title"]["es"] = "Escala de Wexner"

    overlay = wording_overlay(ccis, full)

    assert set(overlay) == {
        "id", "languages", "wording", "title", "instructions", "recall_period",
        "options", "items", "wording_version",
    }  # fmt: skip
    assert apply_wording(ccis, overlay) == apply_wording(ccis, full)


def test_a_stored_overlay_still_applies_after_the_shipped_definition_changes(ccis):
    overlay = wording_overlay(ccis, definition_dict(ccis) | {"wording_version": "clinic-2"})
    later = definition_dict(ccis) | {"version": "1.1"}
    later["cutoffs"][0]["label"]["en"] = "9 or more: often called severe"
    later_ccis = load_definition(later)

    reworded = apply_wording(later_ccis, overlay)

    assert reworded.version == "1.1"
    assert reworded.wording_version("tr") == "clinic-2"


def test_an_overlay_is_refused_for_the_same_reasons_as_an_import(qolaf):
    data = wording_file(qolaf, ["es"]) | {"bands": []}

    with pytest.raises(DefinitionError, match="bands differs from the shipped definition"):
        wording_overlay(qolaf, data)


def test_the_overlay_is_a_copy_of_the_file(qolaf):
    data = wording_file(qolaf, ["tr"])

    overlay = wording_overlay(qolaf, data)
    overlay["title"]["tr"] = "Changed"

    assert data["title"]["tr"] == qolaf.title("tr")
