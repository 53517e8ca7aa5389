"""The import story: answers given before and after a clinic imports the licensed wording are
each shown with the words their patient saw, on staff pages, in FHIR and in CSV, each with its
version; the provisional label goes for the new answers and stays for the old ones."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey.clinic.results import patient_course
from survey.demo import answers_for_total
from survey.domain.invitations import create_invitation
from survey.domain.responses import store_response
from survey.domain.wording_in_use import instrument_in_use
from survey.extensions import db
from survey.instruments import fingerprint, get_instrument, shown_text
from survey.models import Response, ShownWording
from tests.clinic.test_exports import download, read_csv
from tests.clinic.test_pages import cells
from tests.fixtures.clinic import add_history
from tests.instruments.builders import wording_file, write_json


def official(text: str) -> str:
    return f"[oficial] {text}"


@pytest.fixture
def before_and_after(site, make_patient, runner, tmp_path):
    """A Spanish-speaking patient: baseline answered to the shipped (provisional) QoLAF-Q,
    then the clinic imports the licensed Spanish wording, then the 3-month answers."""
    patient = make_patient(site, reference="IMPORT-STORY")
    add_history(patient, [("baseline", -7, 51, (1, 3, 3, 2, 1))])
    data = wording_file(get_instrument("qolaf-q"), ["es"], reword=official)
    data["wording_version"] = "ES-2017"
    path = write_json(tmp_path / "qolaf-es.json", data)
    result = runner.invoke(args=["instruments", "import", str(path)])
    assert result.exit_code == 0, result.output

    qolaf, ccis = instrument_in_use(db.session, "qolaf-q"), instrument_in_use(db.session, "ccis")
    opens_at = datetime(2026, 4, 16, 9, tzinfo=UTC)
    invitation = create_invitation(db.session, patient, "3 months", opens_at=opens_at)
    db.session.flush()
    at = opens_at + timedelta(days=1)
    store_response(db.session, invitation, qolaf, answers_for_total(qolaf, 28), "es", at)
    store_response(db.session, invitation, ccis, dict.fromkeys(ccis_ids(), 0), "es", at)
    db.session.commit()
    return patient


def ccis_ids():
    return [item.id for item in get_instrument("ccis").items]


def test_each_response_stores_its_wording_version_and_each_wording_is_kept(before_and_after):
    shipped = get_instrument("qolaf-q")
    responses = db.session.scalars(
        select(Response).where(Response.instrument_id == "qolaf-q").order_by(Response.id)
    ).all()
    assert [(r.wording_version, r.wording_status) for r in responses] == [
        ("1.0", "provisional"),
        ("ES-2017", "validated"),
    ]
    assert responses[0].wording_hash == fingerprint.wording_hash(shipped, "es")
    assert responses[1].wording_hash != responses[0].wording_hash
    kept = {
        row.wording_hash: row
        for row in db.session.scalars(
            select(ShownWording).where(ShownWording.instrument_id == "qolaf-q")
        )
    }
    assert set(kept) == {r.wording_hash for r in responses}
    assert kept[responses[0].wording_hash].texts == shown_text(shipped, "es")
    assert kept[responses[1].wording_hash].texts["items"][0] == official(
        shipped.item("q1").text("es")
    )
    assert kept[responses[1].wording_hash].wording_version == "ES-2017"


def test_the_course_reads_each_answer_with_its_own_words(before_and_after):
    course = patient_course(db.session, before_and_after)
    baseline, later = course.instruments["qolaf-q"].results
    q1 = get_instrument("qolaf-q").item("q1").text("es")
    assert baseline.shown.item_text(1) == q1
    assert later.shown.item_text(1) == official(q1)
    assert later.shown.option_label(1) == official("Nada")
    assert baseline.provisional and not later.provisional
    assert len(course.instruments["qolaf-q"].wordings) == 2
    assert len(course.instruments["ccis"].wordings) == 1  # the CCIS wording did not change


def test_the_patient_page_shows_each_wording_with_its_version(signed_in, before_and_after):
    html = signed_in.get(f"/clinic/patients/{before_and_after.id}").text
    q1 = get_instrument("qolaf-q").item("q1").text("es")
    before, after = cells(html, "items-qolaf-q-1"), cells(html, "items-qolaf-q-2")
    assert before[0] == ["Item", "baseline"] and after[0] == ["Item", "3 months"]
    assert before[1][0].startswith(f"1. {q1}") and official(q1) not in before[1][0]
    assert after[1][0].startswith(f"1. {official(q1)}")
    assert after[1][1] == f"2 {official('Un poco')}"  # 28 over 14 items: 2 each
    assert before[-1] == ["Total", "51 provisional"] and after[-1] == ["Total", "28"]
    tables = re.findall(r'<table class="data items"[^>]*>.*?</caption>', html, re.S)
    caption = " ".join(re.sub(r"<[^>]+>", " ", tables[1]).split())
    assert "Validated wording" in caption and "wording version ES-2017" in caption
    assert "Provisional wording" in tables[0] and "wording version 1.0" in tables[0]

    # The top of the page: the baseline is provisional, the latest is not.
    compare = cells(html, "baseline-latest")
    assert "provisional" in compare[1][1] and "provisional" not in compare[1][2]
    # The timeline names each wording's version.
    timeline = " ".join(" ".join(row) for row in cells(html, "timeline"))
    assert "wording version 1.0" in timeline and "wording version ES-2017" in timeline


def test_the_list_drops_the_label_for_the_new_answers(signed_in, before_and_after):
    html = signed_in.get("/clinic/").text
    row = re.search(r'<tr data-patient="IMPORT-STORY">(.*?)</tr>', html, re.S).group(1)
    latest = re.search(r'<td class="qolaf-latest">(.*?)</td>', row, re.S).group(1)
    change = re.search(r'<td class="qolaf-change">(.*?)</td>', row, re.S).group(1)
    assert "tag-provisional" not in latest  # 28, answered to the validated wording
    assert "tag-provisional" in change  # its baseline end (51) is provisional


def test_fhir_gives_each_wording_its_questionnaire_version(signed_in, before_and_after):
    bundle = json.loads(download(signed_in, "fhir").text)
    resources = [entry["resource"] for entry in bundle["entry"]]
    spanish = {
        q["version"]: q
        for q in resources
        if q["resourceType"] == "Questionnaire"
        and q["url"].endswith("/qolaf-q")
        and q["language"] == "es"
    }
    shipped = get_instrument("qolaf-q")
    old = f"1.0-es-{fingerprint.wording_hash(shipped, 'es')[:12]}"
    (new,) = [version for version in spanish if version.startswith("ES-2017-es-")]
    assert set(spanish) == {old, new}
    assert spanish[old]["status"] == "draft" and spanish[new]["status"] == "active"
    assert spanish[old]["item"][0]["text"] == shipped.item("q1").text("es")
    assert spanish[new]["item"][0]["text"] == official(shipped.item("q1").text("es"))

    answered = {
        r["questionnaire"].split("|")[1]: r
        for r in resources
        if r["resourceType"] == "QuestionnaireResponse" and "/qolaf-q|" in r["questionnaire"]
    }
    assert set(answered) == {old, new}
    assert answered[new]["item"][0]["text"] == official(shipped.item("q1").text("es"))
    assert answered[old]["meta"]["tag"][0]["code"] == "provisional"
    assert answered[new]["meta"]["tag"][0]["code"] == "validated"
    versions = {
        e["valueString"]
        for r in answered.values()
        for e in r["extension"]
        if e["url"].endswith("wording-version")
    }
    assert versions == {"1.0", "ES-2017"}
    observations = [
        r for r in resources if r["resourceType"] == "Observation" and "qolaf" in json.dumps(r)
    ]
    # Each response's total and its two subscales; only the provisional answers say so.
    assert len(observations) == 2 * 3
    notes = [" ".join(n["text"] for n in o.get("note", [])) for o in observations]
    assert sum("provisional wording" in note for note in notes) == 3
    totals = [o for o in observations if o["code"]["coding"][0]["code"] == "qolaf-q-total"]
    assert sum("provisional wording" in json.dumps(o.get("note")) for o in totals) == 1


def test_csv_names_each_wording_version(signed_in, before_and_after):
    rows = read_csv(download(signed_in, "wide").text)
    assert [(r["timepoint"], r["qolaf_q_wording_version"]) for r in rows] == [
        ("baseline", "1.0"),
        ("3 months", "ES-2017"),
    ]
    long = read_csv(download(signed_in, "long").text)
    assert {
        (r["timepoint"], r["wording_version"]) for r in long if r["instrument_id"] == "qolaf-q"
    } == {
        ("baseline", "1.0"),
        ("3 months", "ES-2017"),
    }


def test_an_import_without_a_version_is_numbered(runner, tmp_path):
    ccis = get_instrument("ccis")
    for number in (1, 2):
        data = wording_file(ccis, ["tr"], reword=lambda text, n=number: f"[{n}] {text}")
        path = write_json(tmp_path / f"tr-{number}.json", data)
        assert runner.invoke(args=["instruments", "import", str(path)]).exit_code == 0
        in_use = instrument_in_use(db.session, "ccis")
        assert in_use.wording_version("tr") == f"{ccis.version}-import-{number}"
    assert instrument_in_use(db.session, "ccis").wording_version("es") == ccis.version == "1.1"


def test_a_version_too_long_to_store_is_refused(runner, tmp_path):
    data = wording_file(get_instrument("ccis"), ["tr"]) | {"wording_version": "v" * 65}
    result = runner.invoke(
        args=["instruments", "import", str(write_json(tmp_path / "x.json", data))]
    )
    assert result.exit_code != 0
    assert "wording_version: at most 64 characters" in result.output
