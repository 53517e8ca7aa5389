"""REDCap: the data dictionary follows REDCap's import format and naming rules, and the data
file imports with it (every column a field, every coded value a choice) and holds the cases."""

import csv
import io
import re

import pytest

from survey.clinic import exports_redcap
from tests.clinic.test_exports import download
from tests.fixtures.clinic import CCIS_ITEMS

HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def read(response):
    assert response.status_code == 200
    assert not response.data.startswith(b"\xef\xbb\xbf")
    reader = csv.reader(io.StringIO(response.data.decode("utf-8"), newline=""))
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def dictionary(signed_in):
    return read(download(signed_in, "redcap-dictionary"))


def choices(field):
    text = field["Choices, Calculations, OR Slider Labels"]
    return dict(part.strip().split(", ", 1) for part in text.split("|")) if text else {}


def test_the_dictionary_has_redcaps_columns_and_naming_rules(dictionary):
    header, fields = dictionary
    assert header == HEADER
    names = [f["Variable / Field Name"] for f in fields]
    assert names[0] == "record_id"
    assert len(set(names)) == len(names) > 40
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= 26, name
    forms = [f["Form Name"] for f in fields]
    assert list(dict.fromkeys(forms)) == ["timepoint", "qolaf_q", "ccis"]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", form) for form in forms)
    assert {f["Field Type"] for f in fields} <= {"text", "radio", "dropdown"}
    for field in fields:
        if field["Field Type"] in {"radio", "dropdown"}:
            codes = choices(field)
            assert codes and all(re.fullmatch(r"-?[A-Za-z0-9_]+", c) for c in codes), field
        assert field["Field Label"]


def test_the_dictionary_carries_item_texts_value_labels_and_ranges(dictionary):
    fields = {f["Variable / Field Name"]: f for f in dictionary[1]}
    item = fields["qolaf_q_item_q1"]
    assert item["Field Type"] == "radio" and item["Required Field?"] == "y"
    assert choices(item) == {
        "1": "Not at all",
        "2": "A little",
        "3": "Moderately",
        "4": "Quite a lot",
        "5": "Extremely",
    }
    assert item["Field Label"].startswith("How much")
    assert "es: " in item["Field Annotation"] and "tr: " in item["Field Annotation"]
    solid = fields["ccis_item_solid"]
    assert solid["Field Label"] == "How often do you leak solid stool without meaning to?"
    assert choices(solid)["0"] == "Never — it does not happen"
    total = fields["qolaf_q_total"]
    assert (total["Text Validation Type OR Show Slider Number"], total["Text Validation Min"],
            total["Text Validation Max"]) == ("integer", "14", "70")  # fmt: skip
    assert fields["ccis_total"]["Text Validation Max"] == "20"
    assert choices(fields["qolaf_q_band"])["limited"] == "Limited impact (15-28)"
    assert fields["qolaf_q_physical"]["Text Validation Min"] == "7"
    assert "provisional item mapping" in fields["qolaf_q_physical"]["Field Label"]
    assert "Cir Esp" not in total["Field Label"]
    assert "Dis Colon Rectum 2017" in fields["qolaf_q_response_id"]["Section Header"]
    assert fields["record_id"]["Identifier?"] == "y"


def test_the_dictionary_speaks_the_users_language(signed_in):
    with signed_in.session_transaction() as session:
        session["locale"] = "es"
    fields = {
        f["Variable / Field Name"]: f for f in read(download(signed_in, "redcap-dictionary"))[1]
    }
    assert choices(fields["ccis_item_solid"])["1"] == "Rara vez — menos de una vez al mes"
    assert "en: How often do you leak solid stool" in fields["ccis_item_solid"]["Field Annotation"]


def test_the_data_imports_with_the_dictionary_and_holds_the_published_case(
    signed_in, dictionary, published_case, missed_timepoint
):
    fields = {f["Variable / Field Name"]: f for f in dictionary[1]}
    header, rows = read(download(signed_in, "redcap"))
    assert header[:2] == ["record_id", "redcap_event_name"]
    forms = list(dict.fromkeys(f["Form Name"] for f in fields.values()))
    assert [h for h in header if h.endswith("_complete")] == [f"{f}_complete" for f in forms]
    assert set(header) - {"redcap_event_name"} - {f"{f}_complete" for f in forms} == set(fields)
    checked = 0
    for row in rows:
        assert re.fullmatch(r"[a-z0-9_]+_arm_1", row["redcap_event_name"])
        for name, value in row.items():
            field = fields.get(name)
            if not value or field is None:
                continue
            if field["Field Type"] in {"radio", "dropdown"}:
                assert value in choices(field), (name, value)
                checked += 1
            kind = field["Text Validation Type OR Show Slider Number"]
            if kind == "integer":
                number = int(value)
                low, high = field["Text Validation Min"], field["Text Validation Max"]
                assert not low or number >= int(low)
                assert not high or number <= int(high)
            elif kind == "datetime_seconds_ymd":
                assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value)
            elif kind == "date_ymd":
                assert re.fullmatch(r"\d{4}-\d\d-\d\d", value)
    assert checked > 50
    record = f"{published_case.site_id}-CASE-51"
    case = {r["redcap_event_name"]: r for r in rows if r["record_id"] == record}
    assert list(case) == ["baseline_arm_1", "3_weeks_arm_1", "3_months_arm_1", "6_months_arm_1"]
    assert (case["baseline_arm_1"]["qolaf_q_total"], case["baseline_arm_1"]["ccis_total"]) == (
        "51",
        "10",
    )
    assert case["baseline_arm_1"]["qolaf_q_band"] == "high"
    assert (case["6_months_arm_1"]["qolaf_q_total"], case["6_months_arm_1"]["ccis_total"]) == (
        "28",
        "0",
    )
    assert case["6_months_arm_1"]["qolaf_q_complete"] == "2"
    assert [case["baseline_arm_1"][f"ccis_item_{i}"] for i in CCIS_ITEMS] == [
        "1", "3", "3", "2", "1"
    ]  # fmt: skip
    missed = {
        r["redcap_event_name"]: r
        for r in rows
        if r["record_id"] == f"{missed_timepoint.site_id}-CASE-MISSED"
    }
    assert missed["3_weeks_arm_1"]["qolaf_q_complete"] == ""
    assert missed["3_weeks_arm_1"]["timepoint_status"] == "missed"


@pytest.mark.parametrize(
    ("label", "event"),
    [
        ("baseline", "baseline_arm_1"),
        ("3 months", "3_months_arm_1"),
        ("Follow-up: 12 months (late)", "follow_up_12_month_arm_1"),
        ("!!!", "event_arm_1"),
    ],
)
def test_event_names_as_redcap_derives_them(label, event):
    assert exports_redcap.event_name(label) == event
