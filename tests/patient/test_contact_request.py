""" "Please contact me": one tap at the end of an invitation, an optional reason that never
leaves the page's post body, once per invitation; the thank-you page then says what happens
next in the site's own words, in the patient's language."""

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import (
    AuditEvent,
    ContactRequest,
    InvitationStatus,
    Response,
    TriageItem,
    TriageSettings,
)
from tests.fixtures.patients import CCIS_10, QOLAF_51, hostile_strings, interface, refreshed

OFFER = "Would you like your care team to contact you?"
DEFAULT_REPLY = (
    "Your care team has been told and will contact you. If you need help urgently, do not "
    "wait: call your clinic or the emergency services."
)


@pytest.fixture
def answered(patient, enrolled, invite):
    """A patient who has just sent both questionnaires and sees the thank-you page."""
    link = invite(enrolled)
    patient.opens(link)
    patient.completes(QOLAF_51, CCIS_10)
    return link


def ask(patient, reason: str | None = "", **extra):
    data = {"csrf_token": patient.csrf_token(), **extra}
    if reason is not None:
        data["reason"] = reason
    return patient.client.post("/survey/contact", data=data)


def requests() -> list[ContactRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ContactRequest)))


def test_the_thank_you_page_offers_to_be_contacted(patient, answered):
    page = patient.client.get("/survey/done").text
    assert interface("es", OFFER) in page
    assert interface("es", "Please contact me") in page
    assert 'action="/survey/contact"' in page and 'name="reason"' in page


def test_asking_with_a_reason_stores_it_once_and_tops_the_worklist(patient, answered):
    sent = ask(patient, "  Me sigue supurando la herida.\r\n¿Pueden llamarme?  ")
    assert sent.status_code == 303 and sent.headers["Location"] == "/survey/done"
    [request] = requests()
    assert request.reason == "Me sigue supurando la herida.\n¿Pueden llamarme?"
    assert request.invitation_id == answered.invitation.id
    item = db.session.scalar(
        select(TriageItem).where(TriageItem.invitation_id == request.invitation_id)
    )
    assert (str(item.level), str(item.status)) == ("red", "open")
    assert item.findings[-1]["rule"] == "contact-request"
    # A second tap (or a reload of the post) changes nothing.
    assert ask(patient, "something else").status_code == 303
    assert [r.reason for r in requests()] == ["Me sigue supurando la herida.\n¿Pueden llamarme?"]
    assert db.session.scalar(select(func.count()).select_from(TriageItem)) == 1


def test_one_tap_without_a_reason_is_enough(patient, answered):
    assert ask(patient, reason=None).status_code == 303
    [request] = requests()
    assert request.reason == ""


def test_after_asking_the_page_says_what_happens_next_in_the_patients_language(patient, answered):
    ask(patient, "")
    page = patient.client.get("/survey/done").text
    assert interface("es", "You asked to be contacted") in page
    assert interface("es", DEFAULT_REPLY) in page
    assert interface("es", DEFAULT_REPLY) != DEFAULT_REPLY  # translated
    assert interface("es", OFFER) not in page
    assert "+34 950 000 000" in page  # the site's contact, as on every patient page


def test_the_site_can_say_what_happens_next_in_its_own_words(patient, answered, site):
    own = "Una enfermera de la unidad le llamará en 2 días laborables."
    db.session.add(
        TriageSettings(site_id=site.id, contact_reply={"es": own, "en": "A nurse calls."})
    )
    db.session.commit()
    ask(patient, "")
    page = patient.client.get("/survey/done").text
    assert own in page and interface("es", DEFAULT_REPLY) not in page
    # In a language the site wrote nothing for, the service's own words.
    turkish = patient.client.get("/survey/done?lang=tr").text
    assert interface("tr", DEFAULT_REPLY) in turkish and own not in turkish


def test_the_reason_never_appears_in_a_url(patient, answered):
    sent = ask(patient, "REASON-MARKER")
    assert "REASON-MARKER" not in sent.headers["Location"]
    # A reason in the query string is not how the form sends it, and is never stored.
    patient.client.post(
        "/survey/contact?reason=URL-MARKER", data={"csrf_token": patient.csrf_token()}
    )
    assert all("URL-MARKER" not in r.reason for r in requests())


def test_a_reason_that_cannot_be_kept_is_refused_and_kept_on_the_page(patient, answered):
    long_reason = "á" * 501
    refused = ask(patient, long_reason)
    assert refused.status_code == 422
    assert (
        interface(
            "es",
            "Please shorten what you wrote to %(max)d characters or fewer. Nothing has been "
            "sent yet.",
            max=500,
        )
        in refused.text
    )
    assert long_reason in refused.text  # nothing typed is lost
    for text in ("a\x00b", "\x1b[31mred", "\u202eevil\u202c"):
        refused = ask(patient, text)
        assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert requests() == []
    assert ask(patient, "á" * 500).status_code == 303


@pytest.mark.parametrize(
    "data",
    [
        {"reason": "x", "extra": "1"},
        {"reason": ["a", "b"]},
    ],
    ids=["unknown field", "reason twice"],
)
def test_a_post_the_page_could_not_have_sent_is_refused(patient, answered, data):
    response = patient.client.post(
        "/survey/contact", data={"csrf_token": patient.csrf_token(), **data}
    )
    assert response.status_code == 400
    assert requests() == []


def test_a_post_without_the_pages_token_is_refused(patient, answered):
    response = patient.client.post("/survey/contact", data={"reason": "x"})
    assert response.status_code == 400
    assert interface("es", "This page has expired") in response.text
    assert requests() == []


def test_contact_is_asked_for_at_the_end_only(patient, enrolled, invite):
    link = invite(enrolled)
    patient.opens(link)
    response = ask(patient, "before answering")
    assert response.status_code == 303 and response.headers["Location"] == "/survey"
    assert requests() == []
    assert refreshed(link.invitation).status == InvitationStatus.OPEN


def test_without_a_session_nothing_is_stored(client):
    assert client.post("/survey/contact", data={"reason": "x"}).status_code in (400, 403)
    assert requests() == []


def test_the_submit_stays_exactly_once_and_nothing_is_lost(patient, answered):
    ask(patient, "Please call")
    # Sending the last page again (a double tap on Send) stores no second set of answers.
    again = patient.answers(2, CCIS_10)
    assert again.status_code == 303 and again.headers["Location"] == "/survey/done"
    assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    assert len(requests()) == 1


def test_the_reason_stays_out_of_the_audit_trail(patient, answered):
    ask(patient, "PRIVATE-WORDS")
    db.session.expire_all()
    events = db.session.scalars(select(AuditEvent)).all()
    assert events, "the request is audited: there is a trail to look in"
    for event in events:
        assert "PRIVATE-WORDS" not in str(event.detail)


def test_hostile_reasons_are_stored_as_typed_or_refused_never_an_error(
    patient, enrolled, invite, app
):
    from tests.fixtures.patients import PatientActions

    checked = 0
    for text in hostile_strings()[:30]:
        phone = PatientActions(app.test_client())
        link = invite(enrolled)
        phone.opens(link)
        phone.completes(QOLAF_51, CCIS_10)
        response = ask(phone, text)
        assert response.status_code in (303, 422), (text, response.status_code)
        if response.status_code == 303:
            page = phone.client.get("/survey/done").text
            assert "<script>" not in page.split("</header>")[1]
        checked += 1
    assert checked == 30
