"""Languages come from files: a catalog and wording files add one, with no code; a language is
offered to patients only when its catalog is complete and every questionnaire speaks it; SMS
texts come from the catalogs, right-to-left ones isolated so that links read as typed."""

import io
import json

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask_babel import force_locale, gettext
from sqlalchemy import select

from survey.cli.translate import TEMPLATE
from survey.domain.enrolment import EnrolmentError, check_language, enrol_patient
from survey.domain.invitations import create_invitation, mint_link
from survey.domain.languages import (
    catalogs,
    interface_languages,
    language_statuses,
    patient_languages,
    read_catalogs,
)
from survey.domain.staff_setup import StaffSetupError, create_site
from survey.extensions import db
from survey.instruments import all_instruments
from survey.instruments.definition_file import definition_dict
from survey.models import Response, Site, utcnow
from survey.outreach import texts
from survey.outreach.segments import GSM7, UCS2, count_segments
from tests.conftest import csrf_from, empty_all_tables, make_app

SHIPPED = ("en", "ar", "es", "it", "pt_BR", "tr")


def french_catalog(directory, leave_out: str | None = None):
    """A French catalog of every message of the template, written and compiled in `directory`
    the way a translator's files arrive. The words are marked rather than translated: this
    test is about the files, not about French."""
    template = read_po(io.BytesIO(TEMPLATE.read_bytes()))
    catalog = Catalog(locale="fr")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            # As many forms as French has in Babel's plural rules, the singular first.
            forms = range(catalog.num_plurals)
            string = tuple(f"(fr) {message.id[min(form, 1)]}" for form in forms)
        elif message.id == leave_out:
            string = ""
        else:
            string = f"(fr) {message.id}"
        catalog.add(message.id, string, context=message.context)
    folder = directory / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as po:
        write_po(po, catalog)
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    return directory


def french_wording(instrument) -> dict:
    """A wording file adding French to `instrument`, in the `instruments import` format."""
    full = definition_dict(instrument)
    french = {
        "ccis": "Score d'incontinence de la Cleveland Clinic (score de Wexner)",
        "qolaf-q": "Questionnaire sur la qualité de vie des patients (QoLAF-Q)",
    }
    return {
        "id": instrument.id,
        "languages": ["fr"],
        "wording": {
            "fr": {
                "status": "unvalidated translation",
                "note": "French test wording: not a validated translation.",
            }
        },
        "title": {"fr": french[instrument.id]},
        "instructions": {"fr": "(fr) " + full["instructions"]["en"]},
        "recall_period": None
        if full["recall_period"] is None
        else {"fr": "Au cours des 4 dernières semaines"},
        "options": [
            {"value": option["value"], "label": {"fr": "(fr) " + option["label"]["en"]}}
            for option in full["options"]
        ],
        "items": [
            {"id": item["id"], "text": {"fr": "(fr) " + item["text"]["en"]}}
            for item in full["items"]
        ],
    }


@pytest.fixture
def french_app(schema, tmp_path):
    """The service with a clinic's own catalog directory holding a French catalog."""
    directory = french_catalog(tmp_path / "clinic-translations")
    app = make_app(schema, TRANSLATION_DIRECTORIES=str(directory))
    with app.app_context():
        yield app
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()


def test_the_language_list_comes_from_the_catalogs_and_the_wording(app):
    assert interface_languages() == SHIPPED
    assert patient_languages(db.session) == SHIPPED
    statuses = {status.code: status for status in language_statuses(db.session)}
    assert statuses["pt_BR"].wordings[1][1] == "unvalidated translation"
    assert statuses["it"].wordings[0][1] == "provisional"
    assert statuses["ar"].catalog.complete and statuses["ar"].for_patients
    assert statuses["ar"].direction == "rtl"


def test_a_language_is_added_from_files_alone_and_a_patient_answers_in_it(french_app, tmp_path):
    # The catalog alone: staff may use French, patients may not yet (no questionnaire speaks it).
    assert "fr" in interface_languages()
    assert "fr" not in patient_languages(db.session)
    with pytest.raises(EnrolmentError, match="is not a language patients can answer in"):
        check_language("fr", db.session)

    # Each questionnaire's wording, through the documented import.
    runner = french_app.test_cli_runner()
    for instrument in all_instruments():
        path = tmp_path / f"{instrument.id}.fr.json"
        path.write_text(json.dumps(french_wording(instrument)), encoding="utf-8")
        result = runner.invoke(args=["instruments", "import", str(path)])
        assert result.exit_code == 0, result.output
    assert "fr" in patient_languages(db.session)
    status = runner.invoke(args=["translate", "status"])
    assert "fr     ltr  catalog 100%" in status.output
    assert "offered to patients and staff" in status.output

    site = create_site(db.session, "Hôpital Test", timezone="Europe/Paris", language="fr")
    db.session.flush()
    patient = enrol_patient(db.session, site, "P-FR", "+33612345678", "fr", None, None)
    invitation = create_invitation(
        db.session, patient, "baseline", ("qolaf-q", "ccis"), opens_at=utcnow()
    )
    token = mint_link(db.session, invitation)
    db.session.commit()

    phone = french_app.test_client()
    assert phone.get(f"/s/{token}").status_code in (302, 303)
    page = phone.get("/survey/1").text
    assert '<html lang="fr" dir="ltr">' in page
    assert "Questionnaire sur la qualité de vie des patients" in page
    token_field = csrf_from(page)
    answers = [
        {f"q{n}": "3" for n in range(1, 15)},
        dict.fromkeys(("solid", "liquid", "gas", "pad", "lifestyle"), "1"),
    ]
    for step, page_answers in enumerate(answers, start=1):
        posted = phone.post(
            f"/survey/{step}", data={"csrf_token": token_field, "action": "next", **page_answers}
        )
        assert posted.status_code == 303, posted.text
    db.session.expire_all()
    stored = db.session.scalars(select(Response).order_by(Response.instrument_id)).all()
    assert [(r.instrument_id, r.language, r.total) for r in stored] == [
        ("ccis", "fr", 5),
        ("qolaf-q", "fr", 42),
    ]
    assert {r.wording_status for r in stored} == {"unvalidated translation"}


def test_an_incomplete_catalog_is_offered_to_nobody_and_says_what_is_missing(tmp_path):
    directory = french_catalog(tmp_path / "t", leave_out="Send my answers")
    (directory / "messages.pot").write_bytes(TEMPLATE.read_bytes())

    french = read_catalogs([directory])["fr"]

    assert not french.complete
    assert french.translated == french.total - 1
    assert french.missing == ("Send my answers",)
    assert french.percent == 99


def test_every_shipped_catalog_is_complete_against_the_template(app):
    found = catalogs()
    assert set(found) >= set(SHIPPED)
    for code in SHIPPED:
        assert found[code].complete, (code, found[code].missing[:5])


@pytest.mark.parametrize("language", [code for code in SHIPPED if code != "en"])
@pytest.mark.parametrize("kind", texts.KINDS)
def test_every_language_patients_answer_in_has_its_own_sms_texts(app, kind, language):
    template = texts.template(kind, language)
    assert template != texts.template(kind, "en"), "translated, not the English fallback"
    # The keywords the SMS provider acts on stay in English in every language (the
    # confirmation of an opt-out says how to come back instead).
    assert ("START" if kind == texts.OPTED_OUT else "STOP") in template
    if kind in (texts.HELP, texts.HELP_NO_CONTACT):
        assert "START" in template
    for placeholder in ("{clinic}", "{link}" if kind in texts.LINK_KINDS else "{clinic}"):
        assert placeholder in template
    assert texts.revealing_words(texts.render(kind, language, "", "", "")) == []


def test_an_arabic_text_isolates_the_link_and_the_name_so_they_read_as_typed(app):
    link = texts.example_link("https://survey.example.org")
    body = texts.render(texts.INVITATION, "ar", "Hospital Central", link)

    first, second = body.split("\n")
    # Each line starts right to left, whatever script the clinic's name is in.
    assert first.startswith(texts.RLM + texts.FSI + "Hospital Central" + texts.PDI)
    assert second.startswith(texts.RLM)
    # The link is one left-to-right island, untouched inside.
    assert texts.LRI + link + texts.PDI in first
    assert "STOP" in second
    help_body = texts.render(texts.HELP, "ar", "Hospital Central", contact="+90 212 000 00 00")
    assert texts.LRI + "+90 212 000 00 00" + texts.PDI in help_body
    # Left-to-right languages get no marks at all.
    assert texts.PDI not in texts.render(texts.INVITATION, "es", "Hospital Central", link)


# What each shipped language's texts cost with a 16-character name and a real link's length
# (docs/outreach.md states the same figures): (encoding, segments) per link text.
COSTS = {
    "en": (GSM7, 1),
    "es": (GSM7, 1),
    "it": (GSM7, 2),  # the invitations take one segment, the reminders two
    "pt_BR": (GSM7, 2),  # the same
    "tr": (UCS2, 3),
    "ar": (UCS2, 3),
}


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("kind", texts.LINK_KINDS)
def test_each_languages_link_texts_cost_what_the_docs_say(app, kind, language):
    link = texts.example_link("https://survey.example.org")
    count = count_segments(texts.render(kind, language, "Hospital Central", link))
    encoding, most = COSTS[language]
    assert count.encoding == encoding
    assert 1 <= count.segments <= most


def test_staff_may_read_the_languages_page_with_each_status(app, client, site, make_user, staff):
    make_user("coordinator", sites=[site], email="coord@example.org")
    staff.login("coord@example.org")

    page = client.get("/clinic/admin/languages")

    assert page.status_code == 200
    assert '<span lang="ar" dir="rtl">العربية</span>' in page.text
    assert "100% (" in page.text
    assert "Provisional wording" in page.text and "Unvalidated translation" in page.text
    assert page.text.count("patients and staff") == len(SHIPPED)


def test_arabic_answers_read_right_to_left_on_an_english_staff_page(
    app, client, site, make_user, staff
):
    make_user("clinician", sites=[site], email="doc@example.org")
    patient = enrol_patient(db.session, site, "P-AR", "+971501234567", "ar", None, None)
    invitation = create_invitation(
        db.session, patient, "baseline", ("qolaf-q", "ccis"), opens_at=utcnow()
    )
    token = mint_link(db.session, invitation)
    db.session.commit()
    phone = app.test_client()
    phone.get(f"/s/{token}")
    page = phone.get("/survey/1").text
    assert '<html lang="ar" dir="rtl">' in page
    csrf = csrf_from(page)
    for step, answers in enumerate(
        [
            {f"q{n}": "4" for n in range(1, 15)},
            {"solid": "2", "liquid": "2", "gas": "2", "pad": "2", "lifestyle": "2"},
        ],
        start=1,
    ):
        assert (
            phone.post(
                f"/survey/{step}", data={"csrf_token": csrf, "action": "next", **answers}
            ).status_code
            == 303
        )

    staff.login("doc@example.org")
    page = client.get(f"/clinic/patients/{patient.id}").text

    assert '<html lang="en" dir="ltr">' in page
    ccis_item = '<span lang="ar" dir="rtl">كم مرة يتسرّب منك براز صلب دون قصد؟</span>'
    assert ccis_item in page
    assert '<span class="muted" lang="ar" dir="rtl">أحيانًا' in page
    assert 'direction="ltr"' in page, "charts keep their own direction"
    with force_locale("ar"):
        assert gettext("Results") == "النتائج"


def test_a_site_cannot_default_to_a_language_without_a_catalog(app):
    with pytest.raises(StaffSetupError, match="'fr' is not a language"):
        create_site(db.session, "Hôpital", language="fr")
    assert db.session.scalar(select(Site).where(Site.name == "Hôpital")) is None
