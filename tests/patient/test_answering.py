"""Answering: one questionnaire per page, answers kept as the patient goes, one submit."""

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.instruments import fingerprint, get_instrument
from survey.models import Answer, DraftAnswer, InvitationStatus, Response
from tests.conftest import IsolatedClient
from tests.fixtures.patients import CCIS_10, QOLAF_51, PatientActions, interface, refreshed


def saved_drafts() -> dict[str, int]:
    db.session.expire_all()
    return {draft.item_id: draft.value for draft in db.session.scalars(select(DraftAnswer))}


def response_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Response))


def test_each_questionnaire_page_shows_its_instructions_recall_period_and_progress(
    patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    qolaf = get_instrument("qolaf-q")
    page = patient.client.get("/survey/1").text
    assert qolaf.title("es") in page
    assert qolaf.instructions("es") in page
    assert qolaf.recall_period("es") in page
    assert interface("es", "Questionnaire %(step)d of %(steps)d", step=1, steps=2) in page
    assert page.count("<fieldset") == 14
    assert page.count('type="radio"') == 14 * 5
    assert f"<legend>1. {qolaf.items[0].text('es')}</legend>" in page
    assert "provisional" not in page  # wording status is for staff, not patients


def test_a_patient_who_presses_next_with_questions_unanswered_sees_each_one_flagged(
    patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    given = {item_id: value for item_id, value in QOLAF_51.items() if item_id not in ("q3", "q9")}
    flag = interface("es", "Please choose an answer.")
    response = patient.answers(1, given)
    assert response.status_code == 422
    page = response.text
    assert page.count(flag) == 2
    assert 'aria-describedby="q3-error"' in page and 'id="q3-error"' in page
    assert 'href="#q9-1"' in page and 'role="alert"' in page
    # What was given is kept, on the page and in the database.
    assert 'id="q1-4" name="q1" value="4" checked' in page
    assert saved_drafts() == given


def test_answers_given_on_a_page_are_kept_when_the_patient_goes_back(patient, enrolled, invite):
    patient.opens(invite(enrolled))
    patient.completes(QOLAF_51)
    response = patient.answers(2, {"solid": 3}, action="back")
    assert response.status_code == 303
    assert response.headers["Location"] == "/survey/1"
    assert saved_drafts()["solid"] == 3
    assert 'id="solid-3" name="solid" value="3" checked' in patient.client.get("/survey/2").text


def test_each_answer_is_saved_as_it_is_chosen_when_scripts_run(patient, enrolled, invite):
    patient.opens(invite(enrolled))
    response = patient.answers(1, {"q1": 2}, action="save")
    assert response.status_code == 204
    assert saved_drafts() == {"q1": 2}
    assert patient.answers(1, {"q1": 5, "q2": 1}, action="save").status_code == 204
    assert saved_drafts() == {"q1": 5, "q2": 1}


def test_a_patient_who_closes_the_phone_and_reopens_the_link_continues_where_they_stopped(
    patient, enrolled, invite, app
):
    link = invite(enrolled)
    patient.opens(link)
    patient.completes(QOLAF_51)
    patient.answers(2, {"solid": 1, "gas": 4}, action="save")

    phone = app.test_client()  # a fresh browser: the session cookie is gone
    assert phone.get(link.path).headers["Location"] == "/survey"
    resumed = phone.get("/survey")
    assert resumed.status_code == 302
    assert resumed.headers["Location"] == "/survey/2"
    page = phone.get("/survey/2").text
    assert 'value="1" checked' in page and 'id="gas-4" name="gas" value="4" checked' in page


def test_a_patient_who_completes_both_questionnaires_has_their_scores_stored_once(
    patient, enrolled, invite
):
    link = invite(enrolled)
    patient.opens(link)
    response = patient.completes(QOLAF_51, CCIS_10)
    assert response.headers["Location"] == "/survey/done"
    thanks = patient.client.get("/survey/done")
    assert thanks.status_code == 200
    assert "Almería Colorectal Unit" in thanks.text

    invitation = refreshed(link.invitation)
    assert invitation.status == InvitationStatus.COMPLETED
    assert invitation.completed_at is not None
    stored = {r.instrument_id: r for r in db.session.scalars(select(Response))}
    qolaf, ccis = stored["qolaf-q"], stored["ccis"]
    assert (qolaf.total, qolaf.band, qolaf.subscales) == (
        51,
        "high",
        {"physical": 28, "psychosocial": 23},
    )
    assert (ccis.total, ccis.band) == (10, None)
    assert {r.language for r in stored.values()} == {"es"}
    assert qolaf.wording_hash == fingerprint.wording_hash(get_instrument("qolaf-q"), "es")
    answers = db.session.scalars(select(Answer).where(Answer.response_id == qolaf.id)).all()
    assert {a.item_id: a.value for a in answers} == QOLAF_51
    assert saved_drafts() == {}


@pytest.mark.parametrize("how", ["double tap", "back button", "second tab"])
def test_a_second_submit_stores_nothing_more_and_shows_the_same_thank_you(
    patient, enrolled, invite, app, how
):
    link = invite(enrolled)
    patient.opens(link)
    patient.completes(QOLAF_51)
    token = patient.csrf_token()
    first = patient.answers(2, CCIS_10)
    if how == "second tab":
        again = patient.client.post("/survey/2", data={"csrf_token": token, **CCIS_10})
    elif how == "back button":
        again = patient.client.get("/survey/2")
    else:
        again = patient.answers(2, {**CCIS_10, "solid": 4})
    assert first.headers["Location"] == again.headers["Location"] == "/survey/done"
    assert response_count() == 2
    assert db.session.scalar(select(Response.total).where(Response.instrument_id == "ccis")) == 10
    assert patient.client.get("/survey/done").status_code == 200


def test_a_patient_who_skips_ahead_is_sent_back_to_the_unfinished_questionnaire(
    patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    patient.answers(1, {"q1": 3}, action="save")
    response = patient.answers(2, CCIS_10)
    assert response.status_code == 303
    assert response.headers["Location"] == "/survey/1?check=1"
    page = patient.client.get(response.headers["Location"]).text
    assert 'id="q2-error"' in page and 'id="q1-error"' not in page
    assert response_count() == 0
    assert saved_drafts()["solid"] == 2  # the last page's answers were kept


def test_the_page_speaks_the_patients_stored_language(patient, enrolled, invite):
    patient.opens(invite(enrolled))
    page = patient.client.get("/survey/2", headers={"Accept-Language": "en"}).text
    assert '<html lang="es" dir="ltr">' in page
    assert get_instrument("ccis").items[0].text("es") in page


def test_a_patient_who_picks_a_language_keeps_it_for_this_invitation(
    patient, enrolled, invite, app
):
    link = invite(enrolled)
    patient.opens(link)
    page = patient.client.get("/survey?lang=tr").text
    assert '<html lang="tr"' in page
    assert 'lang="tr" hreflang="tr" aria-current="true"' in page
    assert refreshed(link.invitation).language == "tr"
    # Remembered for the invitation, on another phone too.
    phone = app.test_client()
    phone.get(link.path)
    assert '<html lang="tr"' in phone.get("/survey").text


def test_the_language_switch_links_to_the_page_it_is_on_in_the_pages_language(
    patient, enrolled, invite, app
):
    """The switcher is rendered once per place and language (survey/i18n.py): each page
    still gets its own links, marked in its own language."""
    patient.opens(invite(enrolled))
    welcome = patient.client.get("/survey?lang=tr").text
    assert '<a href="/survey?lang=ar" lang="ar" hreflang="ar">' in welcome
    assert '<a href="/survey?lang=tr" lang="tr" hreflang="tr" aria-current="true">' in welcome
    patient.completes(QOLAF_51, CCIS_10)
    done = patient.client.get("/survey/done?lang=es").text
    assert '<a href="/survey/done?lang=tr" lang="tr" hreflang="tr">' in done
    assert '<a href="/survey/done?lang=es" lang="es" hreflang="es" aria-current="true">' in done
    # A link page that does not work links to its own address; a refused post, to the start.
    stranger = app.test_client()
    broken = stranger.get("/s/" + "Z" * 22 + "?lang=ar").text
    assert f'<a href="/s/{"Z" * 22}?lang=ar" lang="ar" hreflang="ar" aria-current="true">' in broken
    refused = stranger.post("/survey/1", data={"action": "next"}).text
    assert '<a href="/survey?lang=en" lang="en" hreflang="en" aria-current="true">' in refused


def test_a_questionnaire_page_switches_language_with_buttons_that_post_its_answers(
    patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    for lang in ("ar", "es"):
        page = patient.client.get(f"/survey/1?lang={lang}").text
        current = f'value="{lang}" class="link" lang="{lang}" aria-current="true">'
        assert f'<button type="submit" form="answers" name="lang" {current}' in page
        assert page.count('form="answers" name="lang"') == page.count("<li><button")


def test_switching_language_on_a_questionnaire_page_keeps_the_answers_just_chosen(
    patient, enrolled, invite
):
    link = invite(enrolled)
    patient.opens(link)
    response = patient.answers(1, {"q1": 4, "q2": 2}, action=None, lang="en")
    assert response.status_code == 303
    assert response.headers["Location"] == "/survey/1"
    assert saved_drafts() == {"q1": 4, "q2": 2}
    page = patient.client.get("/survey/1").text
    assert '<html lang="en"' in page and get_instrument("qolaf-q").title("en") in page
    assert 'id="q1-4" name="q1" value="4" checked' in page


def test_the_language_answered_in_is_stored_with_each_response(patient, enrolled, invite):
    patient.opens(invite(enrolled))
    patient.client.get("/survey?lang=tr")
    patient.completes(QOLAF_51, CCIS_10)
    rows = db.session.scalars(select(Response)).all()
    assert {(r.language, r.wording_hash) for r in rows} == {
        ("tr", fingerprint.wording_hash(get_instrument(r.instrument_id), "tr")) for r in rows
    }


@pytest.mark.parametrize(
    "accept, expected", [("tr-TR,tr;q=0.9", "tr"), ("es", "es"), ("de, fr", "en"), ("", "en")]
)
def test_a_link_that_does_not_work_speaks_the_browsers_language(client, accept, expected):
    page = client.get("/s/" + "Z" * 22, headers={"Accept-Language": accept})
    assert f'<html lang="{expected}"' in page.text


def test_an_unknown_language_choice_is_ignored(patient, enrolled, invite):
    link = invite(enrolled)
    patient.opens(link)
    page = patient.client.get("/survey?lang=xx")
    assert page.status_code == 200 and '<html lang="es"' in page.text
    assert refreshed(link.invitation).language is None


def test_the_invite_command_prints_a_link_that_opens_the_questionnaires(
    runner, enrolled, patient, app
):
    result = runner.invoke(args=["invite", "P-042"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith(app.config["PUBLIC_URL"] + "/s/")
    assert patient.opens(link.removeprefix(app.config["PUBLIC_URL"])).status_code == 303
    assert patient.client.get("/survey").status_code == 200


def test_patient_pages_stay_small(patient, enrolled, invite, app):
    patient.opens(invite(enrolled))
    page = patient.client.get("/survey/1")
    css = patient.client.get("/static/style.css")
    script = patient.client.get("/static/autosave.js")
    assert len(page.data) + len(css.data) + len(script.data) < 30_000
    # One small script of our own, and no inline code (the CSP forbids it).
    assert page.text.count("<script") == 1
    assert '<script src="/static/autosave.js" defer>' in page.text


class PhoneOverHttps(IsolatedClient):
    """The test client, every request made over HTTPS (as a proxy ending TLS forwards it)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", "https://survey.example.org")
        return super().open(*args, **kwargs)


def test_over_https_a_patient_can_send_answers_though_their_browser_sends_no_referrer(
    app, enrolled, invite
):
    # Patient pages say Referrer-Policy: no-referrer, so a phone posts a page over HTTPS with
    # no Referer (and Origin: null); a check that wants a same-origin Referer refuses them all.
    # A client of its own: setting the shared app's test_client_class would make every later
    # test's client speak to survey.example.org, where its cookies are not found.
    patient = PatientActions(PhoneOverHttps(app, app.response_class, use_cookies=True))
    link = invite(enrolled)
    assert patient.opens(link).status_code == 303
    response = patient.completes(QOLAF_51, CCIS_10)
    assert response.headers["Location"].endswith("/survey/done")
    assert refreshed(link.invitation).status == InvitationStatus.COMPLETED
