"""Exports: CSV that reads back to exactly what the database holds, FHIR that validates,
scoped to the user's sites, streamed, audited, and safe to open in a spreadsheet."""

import contextvars
import csv
import io
import json
from datetime import date, timedelta
from urllib.parse import parse_qs

import pytest
from fhir.resources.R4B.bundle import Bundle  # FHIR R4B models: R4-compatible for these resources
from flask.testing import FlaskClient
from sqlalchemy import select

from survey.clinic import exports, fhir
from survey.clinic.exports import ExportScope, safe_cell
from survey.clinic.results import local_date
from survey.extensions import db
from survey.instruments import fingerprint, get_instrument
from survey.models import Answer, AuditEvent, Invitation, Patient, Response, Site
from tests.conftest import csrf_from
from tests.fixtures.clinic import add_history

HOSTILE = '=HYPERLINK("http://evil.example","x")'


def download(client, kind, **form):
    token = csrf_from(client.get("/clinic/exports").text)
    return client.post(f"/clinic/exports/{kind}", data={"csrf_token": token, **form})


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def unsafe(cell: str) -> str:
    """Undo the formula guard, as the data dictionary tells readers to."""
    return cell[1:] if cell[:2] in {"'" + c for c in exports.FORMULA_STARTS} else cell


@pytest.fixture
def histories(published_case, worsened_continence, missed_timepoint):
    return published_case, worsened_continence, missed_timepoint


def test_the_long_csv_reads_back_to_every_answer_in_the_database(signed_in, histories):
    response = download(signed_in, "long")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="survey-long-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response.text)
    assert list(rows[0]) == [column.name for column in exports.long_columns()]

    stored = db.session.execute(
        select(Answer, Response, Invitation, Patient, Site)
        .join(Response, Response.id == Answer.response_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Patient, Patient.id == Response.patient_id)
        .join(Site, Site.id == Patient.site_id)
    ).all()
    # 3 patients: 4 + 2 + 3 timepoints answered... each with 14 + 5 items.
    assert len(rows) == len(stored) == (4 + 3 + 2) * 19
    by_key = {(int(r["response_id"]), r["item_id"]): r for r in rows}
    for answer, response_, invitation, patient, site in stored:
        row = by_key[(response_.id, answer.item_id)]
        assert unsafe(row["patient_reference"]) == patient.reference
        assert row["site"] == site.name
        assert date.fromisoformat(row["index_date"]) == patient.index_date
        assert row["timepoint"] == invitation.timepoint
        assert int(row["timepoint_id"]) == invitation.id
        assert row["instrument_id"] == response_.instrument_id
        assert row["instrument_version"] == response_.instrument_version
        assert row["language"] == response_.language
        assert row["wording_status"] == response_.wording_status
        assert row["wording_hash"] == response_.wording_hash
        assert exports.datetime.fromisoformat(row["submitted_at"]) == response_.submitted_at
        assert (
            int(row["days_since_index"])
            == (local_date(response_.submitted_at, patient.timezone) - patient.index_date).days
        )
        assert int(row["item_position"]) == answer.position
        assert int(row["value"]) == answer.value
    # The published case's baseline CCIS, item by item.
    baseline = [
        r
        for r in rows
        if r["patient_reference"] == "CASE-51"
        and r["timepoint"] == "baseline"
        and r["instrument_id"] == "ccis"
    ]
    assert [(r["item_id"], r["value"]) for r in baseline] == [
        ("solid", "1"),
        ("liquid", "3"),
        ("gas", "3"),
        ("pad", "2"),
        ("lifestyle", "1"),
    ]


def test_the_wide_csv_has_one_row_per_timepoint_with_totals_and_bands(signed_in, histories):
    rows = read_csv(download(signed_in, "wide").text)
    assert list(rows[0]) == [column.name for column in exports.wide_columns()]
    # Every opened timepoint, the missed one included.
    assert [(r["patient_reference"], r["timepoint"], r["timepoint_status"]) for r in rows] == [
        ("CASE-51", "baseline", "completed"),
        ("CASE-51", "3 weeks", "completed"),
        ("CASE-51", "3 months", "completed"),
        ("CASE-51", "6 months", "completed"),
        ("CASE-MISSED", "baseline", "completed"),
        ("CASE-MISSED", "3 weeks", "missed"),
        ("CASE-MISSED", "3 months", "completed"),
        ("CASE-WORSE", "baseline", "completed"),
        ("CASE-WORSE", "3 months", "completed"),
        ("CASE-WORSE", "6 months", "completed"),
    ]
    case = [r for r in rows if r["patient_reference"] == "CASE-51"]
    assert [(r["qolaf_q_total"], r["qolaf_q_band"], r["ccis_total"]) for r in case] == [
        ("51", "high", "10"),
        ("44", "high", "6"),
        ("35", "moderate", "2"),
        ("28", "limited", "0"),
    ]
    assert "ccis_band" not in rows[0]  # the CCIS has no published bands
    missed = rows[5]
    assert all(missed[name] == "" for name in missed if name.startswith(("qolaf_q_", "ccis_")))

    # Every value equals the database.
    for row in rows:
        invitation = db.session.get(Invitation, int(row["timepoint_id"]))
        assert exports.datetime.fromisoformat(row["timepoint_opens_at"]) == invitation.opens_at
        for response in invitation.responses:
            instrument = get_instrument(response.instrument_id)
            p = exports.prefix(instrument)
            assert int(row[f"{p}_response_id"]) == response.id
            assert int(row[f"{p}_total"]) == response.total
            assert exports.datetime.fromisoformat(row[f"{p}_submitted_at"]) == response.submitted_at
            assert row[f"{p}_wording_hash"] == response.wording_hash
            assert row[f"{p}_wording_status"] == response.wording_status
            assert row[f"{p}_instrument_version"] == response.instrument_version
            assert row[f"{p}_language"] == response.language
            if instrument.bands:
                assert row[f"{p}_band"] == response.band
            for subscale, value in response.subscales.items():
                assert int(row[f"{p}_{subscale}"]) == value
            for answer in response.answers:
                assert int(row[f"{p}_item_{answer.item_id}"]) == answer.value


@pytest.mark.parametrize("reference", [HOSTILE, "+1+1", "-2+3", "@SUM(A1)", "=1+2"])
def test_a_reference_a_spreadsheet_would_run_is_defused(signed_in, site, make_patient, reference):
    patient = make_patient(site, reference=reference)
    add_history(patient, [("baseline", 0, 40, (0, 0, 0, 0, 0))])
    for kind in ("long", "wide"):
        rows = read_csv(download(signed_in, kind).text)
        assert {row["patient_reference"] for row in rows} == {"'" + reference}
        assert unsafe(rows[0]["patient_reference"]) == reference


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1 week", "'-1 week"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ok=1", "ok=1"),
        ("", ""),
        (None, ""),
        (-7, -7),  # numbers are not text: a negative day stays a number
    ],
)
def test_the_formula_guard(value, cell):
    assert safe_cell(value) == cell


def test_a_hostile_timepoint_label_and_site_name_are_defused_too(signed_in, site, make_patient):
    site.name = "=cmd|' /C calc'!A0"
    patient = make_patient(site, reference="SAFE")
    add_history(patient, [("-1 week", -7, 40, (0, 0, 0, 0, 0))])
    (row,) = read_csv(download(signed_in, "wide").text)
    assert (row["site"], row["timepoint"]) == ("'=cmd|' /C calc'!A0", "'-1 week")
    assert row["ccis_days_since_index"] == "-6"


def test_the_date_range_and_site_narrow_the_export(
    client, staff, site, other_site, make_user, make_patient, published_case
):
    elsewhere = make_patient(other_site, reference="ANKARA-1", language="tr", phone="+905321234567")
    add_history(elsewhere, [("baseline", 0, 40, (0, 0, 0, 0, 0))])
    user = make_user("clinician", [site, other_site])
    staff.login(user.email)
    everything = read_csv(download(client, "wide").text)
    assert {r["patient_reference"] for r in everything} == {"CASE-51", "ANKARA-1"}
    only_ankara = read_csv(download(client, "wide", site=str(other_site.id)).text)
    assert {r["patient_reference"] for r in only_ankara} == {"ANKARA-1"}
    # Published case answers: 2026-01-09, 02-06, 04-17, 07-17 (a day after each opened).
    spring = read_csv(download(client, "long", **{"from": "2026-02-01", "to": "2026-04-17"}).text)
    assert {(r["patient_reference"], r["timepoint"]) for r in spring} == {
        ("CASE-51", "3 weeks"),
        ("CASE-51", "3 months"),
    }  # both ends inclusive
    before = read_csv(download(client, "long", **{"from": "2026-02-01", "to": "2026-04-16"}).text)
    assert {r["timepoint"] for r in before} == {"3 weeks"}


@pytest.mark.parametrize(
    "form, field",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "20260101"}, "from"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"site": "999"}, "site"),
        ({"site": "x"}, "site"),
    ],
)
def test_a_bad_export_form_is_shown_again_with_the_problem(signed_in, published_case, form, field):
    response = download(signed_in, "long", **form)
    assert response.status_code == 400
    assert "Please correct the fields marked below." in response.text
    assert (
        f'aria-describedby="{"site" if field == "site" else "date-" + field}-error"'
        in response.text
    )


def test_every_export_is_audited_with_its_parameters_and_row_count(signed_in, histories, clinician):
    download(signed_in, "long", **{"from": "2026-01-01"})
    download(signed_in, "fhir")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("export.%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.detail["stage"], e.user_id) for e in events] == [
        ("export.long", "requested", clinician.id),
        ("export.long", "finished", clinician.id),
        ("export.fhir", "requested", clinician.id),
        ("export.fhir", "finished", clinician.id),
    ]
    assert events[0].detail["scope"] == {
        "site_ids": clinician.site_ids,
        "from": "2026-01-01",
        "to": None,
    }
    assert events[1].detail == {
        "kind": "long",
        "stage": "finished",
        "rows": 9 * 19,
        "complete": True,
        "request_event": events[0].id,
    }
    assert events[3].detail["rows"] == 18  # completed questionnaires


def unbuffered(client, path, stop_after=None):
    """POST and read the body piece by piece, as a server hands it on (all in one context,
    since the stream runs in the request's context)."""
    token = csrf_from(client.get("/clinic/exports").text)

    def run():
        response = FlaskClient.open(
            client, path, method="POST", data={"csrf_token": token}, buffered=False
        )
        chunks = []
        for chunk in response.response:
            chunks.append(chunk)
            if stop_after and len(chunks) >= stop_after:
                break
        response.close()
        return response, [chunk for chunk in chunks if chunk]

    return contextvars.Context().run(run)


def test_exports_stream_in_pieces(signed_in, site, make_patient):
    for number in range(40):
        patient = make_patient(site, reference=f"BULK-{number:03d}")
        add_history(
            patient, [("baseline", 0, 40, (1, 1, 1, 1, 1)), ("3 months", 91, 30, (0, 0, 0, 0, 0))]
        )
    response, chunks = unbuffered(signed_in, "/clinic/exports/long")
    assert response.is_streamed
    assert len(chunks) > 1
    assert all(len(chunk) < 2 * exports.FLUSH_AT for chunk in chunks)
    assert sum(chunk.count(b"\r\n") for chunk in chunks) == 1 + 40 * 2 * 19


def test_an_abandoned_download_is_still_audited(signed_in, site, make_patient):
    for number in range(40):
        patient = make_patient(site, reference=f"BULK-{number:03d}")
        add_history(patient, [("baseline", 0, 40, (1, 1, 1, 1, 1))])
    unbuffered(signed_in, "/clinic/exports/long", stop_after=1)
    finished = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export.long").order_by(AuditEvent.id.desc())
    ).first()
    assert finished.detail["stage"] == "finished" and finished.detail["complete"] is False


def test_the_data_dictionary_describes_every_column(signed_in):
    page = signed_in.get("/clinic/exports/dictionary")
    assert page.status_code == 200
    for column in (*exports.long_columns(), *exports.wide_columns()):
        assert f"<code>{column.name}</code>" in page.text
    as_csv = read_csv(signed_in.get("/clinic/exports/dictionary?format=csv").text)
    assert {(r["export"], r["column"]) for r in as_csv} == {
        *(("long", c.name) for c in exports.long_columns()),
        *(("wide", c.name) for c in exports.wide_columns()),
    }
    assert all(r["description"] for r in as_csv)
    wide = {r["column"]: r for r in as_csv if r["export"] == "wide"}
    assert wide["qolaf_q_physical"]["description"] == "Subscale sum (provisional item mapping)."
    assert wide["qolaf_q_total"]["values"] == "14-70" and wide["ccis_total"]["values"] == "0-20"


def test_the_dictionary_has_item_texts_value_labels_ranges_subscales_and_bands(signed_in):
    response = signed_in.get("/clinic/exports/dictionary?format=csv&for=spreadsheet")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = read_csv(response.data.decode("utf-8-sig"))
    assert list(rows[0])[:5] == ["export", "column", "type", "values", "description"]
    wide = {r["column"]: r for r in rows if r["export"] == "wide"}
    qolaf, ccis = get_instrument("qolaf-q"), get_instrument("ccis")
    q1 = wide["qolaf_q_item_q1"]
    assert [q1[f"text_{lang}"] for lang in ("en", "es", "tr")] == [
        qolaf.items[0].text(lang) for lang in ("en", "es", "tr")
    ]
    assert q1["range"] == "1-5" and q1["subscale"] == "physical"
    assert q1["value_labels_en"].startswith("1=Not at all; 2=A little")
    assert wide["ccis_item_solid"]["value_labels_tr"].startswith(
        f"0={ccis.options[0].label('tr')}; "
    )
    assert "1.0 (provisional)" in q1["wording"]
    total = wide["qolaf_q_total"]
    assert total["range"] == "14-70"
    assert total["bands"] == "none=14; limited=15-28; moderate=29-42; high=43-56; very-high=57-70"
    assert "Cir Esp 2018" in total["source"] and "Dis Colon Rectum 2017" in total["source"]
    assert wide["qolaf_q_band"]["value_labels_en"].startswith("none=No impact (14); limited=")
    physical = wide["qolaf_q_physical"]
    assert physical["range"] == "7-35"
    assert physical["subscale"] == "q1, q2, q3, q4, q5, q6, q7 (provisional item mapping)"
    assert (
        wide["ccis_total"]["range"] == "0-20"
        and "Dis Colon Rectum 1993" in (wide["ccis_total"]["source"])
    )
    long = {r["column"]: r for r in rows if r["export"] == "long"}
    assert long["value"]["range"] == "qolaf-q: 1-5; ccis: 0-4"
    page = signed_in.get("/clinic/exports/dictionary").text
    assert "Bands: none=14; limited=15-28" in page and qolaf.items[0].text("en") in page


class TestFhir:
    """The FHIR R4 transaction bundle validates, an EHR's server can process it as it is, and it
    says exactly what the database holds."""

    base = "https://survey.invalid/fhir"

    @pytest.fixture
    def bundle(self, signed_in, histories):
        response = download(signed_in, "fhir")
        assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
        return json.loads(response.text)

    @staticmethod
    def of_type(bundle, kind):
        return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]

    @staticmethod
    def by_identifier(resources, system, value):
        found = [
            r
            for r in resources
            if any(
                i["system"] == system and i["value"] == value
                for i in (
                    r["identifier"] if isinstance(r["identifier"], list) else [r["identifier"]]
                )
            )
        ]
        assert len(found) == 1, (system, value, len(found))
        return found[0]

    def test_it_validates_as_fhir(self, bundle):
        validated = Bundle.model_validate(bundle)
        assert validated.type == "transaction"

    def test_every_entry_is_a_conditional_create_and_references_resolve(self, bundle):
        full_urls = [e["fullUrl"] for e in bundle["entry"]]
        assert len(set(full_urls)) == len(full_urls) > 0
        assert all(u.startswith("urn:uuid:") for u in full_urls)
        for entry in bundle["entry"]:
            resource, request = entry["resource"], entry["request"]
            assert request["method"] == "POST"
            assert request["url"] == resource["resourceType"]
            assert "id" not in resource  # the server assigns ids on create
            search = parse_qs(request["ifNoneExist"], strict_parsing=True)
            if resource["resourceType"] == "Questionnaire":
                assert search == {"url": [resource["url"]], "version": [resource["version"]]}
            else:
                identifier = resource["identifier"]
                first = identifier[0] if isinstance(identifier, list) else identifier
                assert search == {"identifier": [f"{first['system']}|{first['value']}"]}
        # Every reference points at an entry of this bundle, which comes before it.
        seen, references = set(), 0
        for entry in bundle["entry"]:
            resource = entry["resource"]
            for reference in (
                resource.get("subject", {}).get("reference"),
                *(d["reference"] for d in resource.get("derivedFrom", [])),
            ):
                if reference is not None:
                    assert reference in seen
                    references += 1
            seen.add(entry["fullUrl"])
        assert references > 0
        # And every canonical questionnaire a response names is in the bundle.
        canonicals = {f"{q['url']}|{q['version']}" for q in self.of_type(bundle, "Questionnaire")}
        responses = self.of_type(bundle, "QuestionnaireResponse")
        assert responses and all(r["questionnaire"] in canonicals for r in responses)

    def test_the_same_records_get_the_same_full_urls_in_every_export(self, signed_in, bundle):
        again = json.loads(download(signed_in, "fhir").text)
        assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]

    def test_a_patient_is_found_by_the_sites_identifier_and_nothing_else(self, bundle, histories):
        patients = self.of_type(bundle, "Patient")
        assert len(patients) == len(histories) == 3
        for stored in histories:
            system = f"{self.base}/sites/{stored.site_id}/patient-references"
            found = self.by_identifier(patients, system, stored.reference)
            assert set(found) == {"resourceType", "identifier"}  # no name, no phone
        assert "+34612345678" not in json.dumps(bundle)  # no phone numbers leave the service

    def test_it_holds_a_questionnaire_per_wording_in_use(self, bundle):
        questionnaires = self.of_type(bundle, "Questionnaire")
        # Two instruments in six languages, each wording in its own language (as a BCP 47
        # tag); the test patients answered in the wordings in use, so there are no others.
        languages = ["ar", "en", "es", "it", "pt-BR", "tr"]  # by language code
        assert [
            (q["url"].rsplit("/", 1)[1], q["language"], len(q["item"])) for q in questionnaires
        ] == [("qolaf-q", lang, 14) for lang in languages] + [
            ("ccis", lang, 5) for lang in languages
        ]
        qolaf, ccis = questionnaires[2], questionnaires[8]
        shipped_qolaf = get_instrument("qolaf-q")
        assert qolaf["version"] == f"1.0-es-{fingerprint.wording_hash(shipped_qolaf, 'es')[:12]}"
        assert qolaf["item"][0]["text"] == shipped_qolaf.items[0].text("es")
        assert qolaf["status"] == "draft"  # provisional wording is not the published instrument
        assert qolaf["meta"]["tag"][0]["code"] == "provisional"
        assert qolaf["meta"]["profile"] == [fhir.SDC_QUESTIONNAIRE]
        assert "PROVISIONAL" in qolaf["description"]
        assert ccis["status"] == "active"
        options = [o["valueCoding"] for o in ccis["item"][0]["answerOption"]]
        assert [o["code"] for o in options] == ["0", "1", "2", "3", "4"]
        assert [o["extension"] for o in options] == [
            [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": n}]
            for n in range(5)
        ]
        assert options[1]["display"] == "Rara vez — menos de una vez al mes"
        assert len({q["version"] for q in questionnaires}) == 2 * 6  # 2 instruments, 6 languages

    def test_each_response_and_its_scores_match_the_database(self, bundle):
        responses = self.of_type(bundle, "QuestionnaireResponse")
        observations = self.of_type(bundle, "Observation")
        full_url = {id(e["resource"]): e["fullUrl"] for e in bundle["entry"]}
        stored = db.session.scalars(select(Response)).all()
        # A total for each, and the QoLAF-Q's two subscales.
        qolaf_count = sum(r.instrument_id == "qolaf-q" for r in stored)
        assert len(responses) == len(stored) == 18
        assert len(observations) == len(stored) + 2 * qolaf_count
        base = self.base
        for response in stored:
            qr = self.by_identifier(responses, f"{base}/responses", str(response.id))
            patient = db.session.get(Patient, response.patient_id)
            # The shipped wording's version is the definition's (CCIS 1.1: no recall window).
            shipped = get_instrument(response.instrument_id).version
            version = f"{shipped}-{response.language}-{response.wording_hash[:12]}"
            assert qr["questionnaire"] == f"{base}/Questionnaire/{response.instrument_id}|{version}"
            assert qr["meta"]["profile"] == [fhir.SDC_RESPONSE]
            assert response.wording_version == shipped
            assert qr["subject"]["identifier"] == {
                "system": f"{base}/sites/{patient.site_id}/patient-references",
                "value": patient.reference,
            }
            codings = [(i["linkId"], i["answer"][0]["valueCoding"]) for i in qr["item"]]
            assert [(link, int(c["code"])) for link, c in codings] == [
                (a.item_id, a.value) for a in response.answers
            ]
            assert all(
                c["extension"] == [{"url": fhir.ORDINAL_VALUE, "valueDecimal": int(c["code"])}]
                for _, c in codings
            )
            assert {
                "url": f"{base}/StructureDefinition/wording-hash",
                "valueString": response.wording_hash,
            } in qr["extension"]
            obs = self.by_identifier(
                observations,
                f"{base}/observations",
                f"{response.id}-{response.instrument_id}-total",
            )
            assert obs["valueInteger"] == response.total
            assert obs["category"][0]["coding"][0]["code"] == "survey"
            assert obs["code"]["coding"][0] == {
                "system": f"{base}/CodeSystem/instrument-totals",
                "code": f"{response.instrument_id}-total",
                "display": {"qolaf-q": "QoLAF-Q", "ccis": "CCIS"}[response.instrument_id]
                + " total score",
            }
            assert obs["derivedFrom"] == [{"reference": full_url[id(qr)]}]
            assert obs["subject"] == qr["subject"]
            assert obs["meta"]["tag"][0]["code"] == response.wording_status.replace(" ", "-")
            assert "profile" not in obs["meta"]  # no published profile fits a local code
            if response.band:
                interpretation = obs["interpretation"][0]
                assert interpretation["coding"][0]["code"] == response.band
                # The band's source is a note, never presented as the interpretation.
                assert "Cir Esp" not in interpretation["text"]
                assert interpretation["text"].endswith("(provisional)")
                assert any("Cir Esp 2018" in note["text"] for note in obs["note"])
            if response.wording_status == "provisional":
                assert "not a validated score" in obs["note"][0]["text"]
            else:
                assert "note" not in obs
            for subscale, value in response.subscales.items():
                sub = self.by_identifier(
                    observations,
                    f"{base}/observations",
                    f"{response.id}-{response.instrument_id}-{subscale}",
                )
                assert sub["valueInteger"] == value
                assert sub["derivedFrom"] == obs["derivedFrom"]
                assert "provisional item mapping" in sub["note"][-1]["text"]

    def test_the_published_case_reads_as_published(self, bundle, published_case):
        observations = self.of_type(bundle, "Observation")
        system = f"{self.base}/sites/{published_case.site_id}/patient-references"
        totals = [
            (o["code"]["coding"][0]["code"], o["valueInteger"])
            for o in observations
            if o["subject"]["identifier"] == {"system": system, "value": "CASE-51"}
            and o["code"]["coding"][0]["code"].endswith("-total")
        ]
        assert totals[:2] == [("qolaf-q-total", 51), ("ccis-total", 10)]
        assert totals[-2:] == [("qolaf-q-total", 28), ("ccis-total", 0)]

    def test_a_reference_with_search_characters_is_escaped_in_the_search(
        self, signed_in, site, make_patient
    ):
        patient = make_patient(site, reference="A|B,C$1")
        add_history(patient, [("baseline", 0, 40, (1, 1, 1, 1, 1))])
        bundle = json.loads(download(signed_in, "fhir").text)
        (entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
        assert entry["resource"]["identifier"][0]["value"] == "A|B,C$1"
        system = f"{self.base}/sites/{site.id}/patient-references"
        assert parse_qs(entry["request"]["ifNoneExist"]) == {
            "identifier": [f"{system}|A\\|B\\,C\\$1"]
        }
        assert fhir.search_escape("a\\b") == "a\\\\b"

    def test_the_code_system_base_is_a_setting(self, signed_in, histories, app):
        app.config["FHIR_BASE_URL"] = "https://fhir.hospital.example/survey/"
        bundle = json.loads(download(signed_in, "fhir").text)
        Bundle.model_validate(bundle)
        assert bundle["entry"][0]["resource"]["url"] == (
            "https://fhir.hospital.example/survey/Questionnaire/qolaf-q"
        )


def test_the_export_scope_as_a_plain_function(app, published_case):
    scope = ExportScope((published_case.site_id,), date(2026, 7, 1), date(2026, 7, 31))
    rows = list(exports.long_rows(db.session, scope))
    assert {row[3] for row in rows} == {"6 months"} and len(rows) == 19
    assert scope.end - scope.start == timedelta(days=31)


@pytest.mark.parametrize("kind", ["long", "wide"])
def test_csv_for_a_spreadsheet_starts_with_a_byte_order_mark_and_for_analysis_does_not(
    signed_in, site, make_patient, kind
):
    patient = make_patient(site, reference="ÇAĞLA-Ñ", language="tr")
    add_history(patient, [("baseline", 0, 40, (1, 1, 1, 1, 1))])
    for csv_for, bom in (("spreadsheet", True), ("analysis", False), ("", False)):
        response = download(signed_in, kind, csv_for=csv_for)
        assert response.status_code == 200
        assert response.data.startswith(b"\xef\xbb\xbf") is bom
        assert ("-excel-" in response.headers["Content-Disposition"]) is bom
        text = response.data.decode("utf-8-sig")
        rows = read_csv(text)
        assert list(rows[0])[0] == "patient_reference"
        assert {r["patient_reference"] for r in rows} == {"ÇAĞLA-Ñ"}
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == f"export.{kind}").order_by(AuditEvent.id)
    ).first()
    assert event.detail["csv_for"] == "spreadsheet"


def test_an_unknown_csv_use_is_refused_with_a_message(signed_in, published_case):
    response = download(signed_in, "long", csv_for="word")
    assert response.status_code == 400
    assert "Choose what the CSV file is for." in response.text
