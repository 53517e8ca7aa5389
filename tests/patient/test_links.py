"""Opening a private link: what a patient sees for a link that works, and for every link
that does not."""

import re
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from survey.extensions import db
from survey.models import DraftAnswer, InvitationLink, utcnow
from tests.fixtures.patients import CCIS_10, QOLAF_51, hostile_strings, interface, refreshed


def test_a_patient_who_opens_their_link_is_sent_on_to_an_address_without_the_token(
    patient, enrolled, invite
):
    link = invite(enrolled)
    response = patient.opens(link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/survey"
    assert link.token not in response.headers.get("Set-Cookie", "")

    welcome = patient.client.get("/survey")
    assert welcome.status_code == 200
    assert link.token not in welcome.text
    assert "Almería Colorectal Unit" in welcome.text


def test_opening_a_link_records_when_it_was_used_and_when_answering_started(
    patient, enrolled, invite
):
    link = invite(enrolled)
    before = utcnow()
    patient.opens(link)
    invitation = refreshed(link.invitation)
    assert invitation.started_at >= before
    assert db.session.scalar(select(InvitationLink.last_used_at)) >= before


def test_the_welcome_page_says_who_asks_how_long_it_takes_and_that_it_is_not_for_emergencies(
    patient, enrolled, invite
):
    enrolled.language = "en"
    db.session.commit()
    patient.opens(invite(enrolled))
    page = patient.client.get("/survey")
    assert "Almería Colorectal Unit would like to know" in page.text
    assert "2 short questionnaires" in page.text
    assert "about 2 minutes" in page.text
    assert "Your answers go to your care team" in page.text
    assert "not for emergencies" in page.text
    assert 'href="/survey/1"' in page.text


UNKNOWN_LINKS = [
    "/s/" + "A" * 22,  # well formed, never issued
    "/s/" + "A" * 21,  # one character short
    "/s/" + "A" * 23,
    "/s/" + "A" * 2000,
    "/s/",
    "/s/%00%00",
    "/s/..%2F..%2Fetc%2Fpasswd",
    "/s/aaaaaaaaaaaaaaaaaaaaa%C3%A9",
    "/s/<script>alert(1)</script>",
    "/s/a/b/c",
]


@pytest.mark.parametrize("path", UNKNOWN_LINKS)
def test_a_patient_who_opens_a_link_that_does_not_exist_sees_a_calm_page_that_reveals_nothing(
    patient, enrolled, invite, path
):
    invite(enrolled)  # a real invitation exists, and must not leak into this page
    response = patient.opens(path, headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "This link does not work" in response.text
    assert "contact your clinic" in response.text
    for secret in ("Almería", "+34 950", "P-042", "QoLAF", "fístula"):
        assert secret not in response.text
    assert "<script>alert" not in response.text
    assert patient.client.get("/survey").status_code == 403


def test_no_hostile_string_in_a_link_gets_more_than_a_404(patient):
    assert len(hostile_strings()) > 100
    for text in hostile_strings():
        path = "/s/" + text.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
        response = patient.opens(path, follow_redirects=True)  # "//" is merged by a redirect
        assert response.status_code == 404, (text, response.status_code)


def test_a_valid_link_opened_in_a_browser_holding_another_invitation_does_not_show_it(
    patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    response = patient.opens("/s/" + "B" * 22, headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "Almería" not in response.text


@pytest.mark.parametrize(
    "state, status, title",
    [
        ("expired", 410, "This link has expired"),
        ("cancelled", 410, "These questionnaires are no longer needed"),
        ("not yet open", 403, "These questionnaires are not open yet"),
    ],
)
def test_a_patient_whose_link_cannot_be_answered_is_told_why_and_whom_to_contact(
    patient, enrolled, invite, state, status, title
):
    response = patient.opens(invite(enrolled, state), follow_redirects=True)
    assert response.status_code == status
    assert interface("es", title) in response.text
    assert "+34 950 000 000" in response.text  # the clinic's contact, once a link was valid
    assert "P-042" not in response.text
    assert "<form" not in response.text


def test_a_link_that_opens_later_says_on_which_day(patient, enrolled, invite):
    link = invite(enrolled, "not yet open")
    response = patient.opens(link, follow_redirects=True)
    day = link.invitation.opens_at.astimezone(ZoneInfo(enrolled.timezone)).date()
    assert format_date(day, format="long", locale="es") in response.text
    assert refreshed(link.invitation).started_at is None


def test_a_patient_who_opens_a_completed_link_is_thanked_again(patient, enrolled, invite):
    response = patient.opens(invite(enrolled, "completed"), follow_redirects=True)
    assert response.status_code == 200
    assert interface("es", "Thank you") in response.text
    # Nothing left to answer: the only form is the offer to be contacted.
    assert re.findall(r'<form[^>]*action="([^"]+)"', response.text) == ["/survey/contact"]


@pytest.mark.parametrize("state", ["expired", "cancelled"])
def test_a_patient_midway_whose_invitation_closes_sees_the_closed_page_and_nothing_is_saved(
    patient, enrolled, invite, state
):
    link = invite(enrolled)
    patient.opens(link)
    token = patient.csrf_token()
    invitation = refreshed(link.invitation)
    if state == "expired":
        invitation.expires_at = utcnow()
    else:
        invitation.status = state
    db.session.commit()

    assert patient.client.get("/survey").status_code == 410
    assert patient.client.get("/survey/1").status_code == 410
    response = patient.client.post("/survey/1", data={"csrf_token": token, **QOLAF_51})
    assert response.status_code == 410
    assert db.session.scalar(select(DraftAnswer)) is None


def test_a_browser_that_never_opened_a_link_is_asked_to_open_it(client):
    for path in ("/survey", "/survey/1", "/survey/done"):
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 403
        assert "Open the link in your text message again" in response.text


@pytest.mark.parametrize("path", ["/survey", "/survey/1", "/survey/2", "/survey/done"])
def test_patient_pages_are_never_cached_indexed_framed_or_sent_as_a_referrer(
    patient, enrolled, invite, path
):
    link = invite(enrolled)
    opened = patient.opens(link)
    for response in (opened, patient.client.get(path), patient.opens("/s/" + "C" * 22)):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response.headers["X-Robots-Tag"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_opening_a_second_link_switches_the_browser_to_that_invitation(
    patient, enrolled, invite, make_patient, site
):
    first = invite(enrolled)
    patient.opens(first)
    patient.completes(QOLAF_51, CCIS_10)
    second = invite(make_patient(site, reference="P-043", language="tr"))
    patient.opens(second)
    assert patient.client.get("/survey").status_code == 200
    assert refreshed(second.invitation).started_at is not None


def test_a_staff_member_who_opens_a_patient_link_stays_signed_in(
    client, staff, site, make_user, enrolled, invite, patient
):
    user = make_user("clinician", [site])
    staff.login(user.email)
    patient.opens(invite(enrolled))
    assert client.get("/survey").status_code == 200
    assert client.get("/clinic/").status_code == 200


def test_a_static_file_never_resends_the_session_it_was_asked_with(
    patient, enrolled, invite, clock
):
    """A browser fetches the stylesheet and scripts while the page that set the form's CSRF
    token is still arriving; a static response carrying the older session cookie would land
    last and erase that token, so that every answer on the page came back "page expired"."""
    patient.opens(invite(enrolled))
    page = patient.client.get("/survey/1")
    assert page.status_code == 200
    for path in ("/static/style.css", "/static/autosave.js", "/static/favicon.svg"):
        response = patient.client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
    # ...while pages still slide the session's idle limit forward (once its stamp is older
    # than SESSION_REFRESH_SECONDS: tests/security/test_session_refresh.py).
    clock.advance(61)
    assert "Set-Cookie" in patient.client.get("/survey/1").headers
