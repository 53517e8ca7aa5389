"""Before sending: every answer on one page, each a tap from being changed; the page's
small comforts (answered count, the clinic's number as a tel: link, a favicon, language
links that work on an expired page)."""

import re

from sqlalchemy import func, select

from survey.domain.languages import html_lang, patient_languages
from survey.extensions import db
from survey.models import Response
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface, refreshed


def test_the_last_page_leads_to_a_review_of_every_answer_and_nothing_is_sent_yet(
    enrolled, invite, patient
):
    link = invite(enrolled)
    patient.opens(link)
    assert patient.answers(1, QOLAF_51).status_code == 303
    to_review = patient.answers(2, CCIS_10, action="review")
    assert to_review.status_code == 303
    assert to_review.headers["Location"].endswith("/survey/review")
    page = patient.client.get("/survey/review")
    assert page.status_code == 200
    changes = re.findall(r'href="(/survey/\d\?review=1#[a-z0-9]+-\d)"', page.text)
    assert len(changes) == 14 + 5  # every answer has its Change link
    assert "/survey/1?review=1#q7-4" in changes
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_changing_an_answer_from_the_review_returns_to_the_review_then_send_stores_it_once(
    enrolled, invite, patient
):
    link = invite(enrolled)
    patient.opens(link)
    patient.answers(1, QOLAF_51)
    patient.answers(2, CCIS_10, action="review")
    edit = patient.client.get("/survey/1?review=1")
    assert 'action="/survey/1?review=1"' in edit.text
    back = patient.client.post(
        "/survey/1?review=1",
        data={"csrf_token": patient.csrf_token(), "action": "review", **{"q1": "1"}},
    )
    assert back.headers["Location"].endswith("/survey/review")
    sent = patient.answers(2, {}, action="next")  # the review page's Send button
    assert sent.headers["Location"].endswith("/survey/done")
    again = patient.answers(2, {}, action="next")
    assert again.headers["Location"].endswith("/survey/done")
    stored = db.session.scalars(select(Response).where(Response.instrument_id == "qolaf-q")).all()
    assert len(stored) == 1
    assert stored[0].total == sum(QOLAF_51.values()) - QOLAF_51["q1"] + 1
    assert refreshed(link.invitation).status == "completed"


def test_the_review_of_an_incomplete_invitation_sends_the_patient_to_the_gap(
    enrolled, invite, patient
):
    patient.opens(invite(enrolled))
    patient.answers(1, QOLAF_51)
    page = patient.client.get("/survey/review")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/survey/2?check=1")


def test_the_page_counts_the_answers_given(enrolled, invite, patient):
    patient.opens(invite(enrolled))
    patient.answers(1, {"q1": 1, "q2": 2, "q3": 3}, action="save")
    page = patient.client.get("/survey/1")
    count = interface("es", "%(answered)s of %(total)s answered", answered=3, total=14)
    assert count in page.text


def test_the_clinic_number_is_a_tel_link(enrolled, invite, patient):
    patient.opens(invite(enrolled, "expired"))
    page = patient.client.get("/survey")
    assert '<a href="tel:+34950000000">+34 950 000 000</a>' in page.text


def test_an_expired_page_offers_language_links_that_open(enrolled, invite, patient, client):
    patient.opens(invite(enrolled))
    expired = client.post("/survey/1", data={"csrf_token": "stale", "q1": "1"})
    assert expired.status_code == 400
    links = re.findall(r'<a href="([^"]+)" lang="([\w-]+)"', expired.text)
    # One link per language patients can answer in, each with its BCP 47 tag (pt-BR).
    assert [tag for _href, tag in links] == [
        html_lang(code) for code in patient_languages(db.session)
    ]
    for href, _tag in links:
        assert client.get(href.replace("&amp;", "&")).status_code in (200, 302)


def test_there_is_a_favicon(client):
    assert client.get("/favicon.ico").status_code == 301
    assert client.get("/static/favicon.svg").status_code == 200
