"""SPSS and Stata files: read back with pyreadstat, they hold the wide export's values with
the questions and answer labels attached, in the reader's language."""

import math
import os
from datetime import datetime

import pyreadstat
import pytest
from sqlalchemy import select

from survey.clinic import exports_stats
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import AuditEvent
from tests.clinic.test_exports import download
from tests.fixtures.clinic import CCIS_ITEMS

READERS = {"sav": pyreadstat.read_sav, "dta": pyreadstat.read_dta}


def read_back(response, kind, tmp_path):
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith(f'.{kind}"')
    path = tmp_path / f"export.{kind}"
    path.write_bytes(response.data)
    return READERS[kind](os.fspath(path))


@pytest.mark.parametrize("kind", exports_stats.FORMATS)
def test_the_file_reads_back_with_labels_and_the_published_case(
    signed_in, published_case, missed_timepoint, kind, tmp_path
):
    data, meta = read_back(download(signed_in, kind), kind, tmp_path)
    rows = data.to_dict("records")
    assert len(rows) == 4 + 3
    case = [row for row in rows if row["patient_reference"] == "CASE-51"]
    assert [row["timepoint"] for row in case] == ["baseline", "3 weeks", "3 months", "6 months"]
    assert [(row["qolaf_q_total"], row["ccis_total"]) for row in case] == [
        (51, 10),
        (44, 6),
        (35, 2),
        (28, 0),
    ]
    baseline = case[0]
    assert [baseline[f"ccis_item_{i}"] for i in CCIS_ITEMS] == [1, 3, 3, 2, 1]
    assert isinstance(baseline["qolaf_q_submitted_at"], datetime)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert (
        labels["ccis_item_solid"] == "CCIS 1: How often do you leak solid stool without meaning to?"
    )
    assert "provisional" in labels["qolaf_q_physical"]
    assert "14-70" not in labels["qolaf_q_total"] and labels["qolaf_q_total"].startswith("Total")
    values = meta.variable_value_labels
    assert values["qolaf_q_item_q1"] == {
        1: "Not at all",
        2: "A little",
        3: "Moderately",
        4: "Quite a lot",
        5: "Extremely",
    }
    assert values["ccis_item_solid"][4] == "Always — at least once a day"
    bands = values["qolaf_q_band"]
    assert bands[baseline["qolaf_q_band"]] == "High impact (43-56)"
    assert bands[case[-1]["qolaf_q_band"]] == "Limited impact (15-28)"
    statuses = values["qolaf_q_wording_status"]
    assert statuses[baseline["qolaf_q_wording_status"]] == "provisional"
    assert values["timepoint_status"][baseline["timepoint_status"]] == "completed"
    missed = [row for row in rows if row["patient_reference"] == "CASE-MISSED"][1]
    assert values["timepoint_status"][missed["timepoint_status"]] == "missed"
    assert math.isnan(missed["qolaf_q_total"])
    if kind == "sav":
        assert meta.variable_measure["qolaf_q_item_q1"] == "ordinal"
        assert meta.variable_measure["qolaf_q_total"] == "scale"


def test_labels_follow_the_users_language(signed_in, published_case, tmp_path):
    with signed_in.session_transaction() as session:
        session["locale"] = "tr"
    _, meta = read_back(download(signed_in, "sav"), "sav", tmp_path)
    ccis = get_instrument("ccis")
    assert meta.variable_value_labels["ccis_item_solid"] == {
        o.value: o.label("tr") for o in ccis.options
    }
    assert meta.column_labels[meta.column_names.index("ccis_item_solid")].endswith(
        ccis.items[0].text("tr")
    )


def test_a_stata_label_longer_than_stata_keeps_is_shortened(signed_in, published_case, tmp_path):
    _, meta = read_back(download(signed_in, "dta"), "dta", tmp_path)
    assert all(len(label) <= 80 for label in meta.column_labels)
    assert any(label.endswith("…") for label in meta.column_labels)


def test_too_many_rows_are_refused_with_a_message_and_audited(signed_in, published_case, app):
    app.config["EXPORT_STATS_MAX_ROWS"] = 3
    response = download(signed_in, "sav")
    assert response.status_code == 400
    assert "too large for one file" in response.text
    assert [e.detail["stage"] for e in select_events("export.sav")] == ["requested", "refused"]


def select_events(action):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def test_the_file_is_audited_with_its_row_count(signed_in, published_case, tmp_path):
    read_back(download(signed_in, "dta"), "dta", tmp_path)
    finished = select_events("export.dta")[-1]
    assert finished.detail["stage"] == "finished" and finished.detail["rows"] == 4
    assert finished.detail["complete"] is True
