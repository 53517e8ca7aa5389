"""A questionnaire page that only shows the invitation reads it as plain values
(submission.PageInvitation), in the same one statement on PostgreSQL; a request that may
write through it (a post, a ?lang= pick) still gets the ORM object."""

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from survey.extensions import db
from survey.models import Invitation, Patient, Site, utcnow
from tests.fixtures.patients import QOLAF_51, refreshed


@contextmanager
def orm_loads():
    """The Invitation, Patient and Site objects built from rows meanwhile."""
    loaded = []

    def keep(target, context):
        loaded.append(type(target).__name__)

    classes = (Invitation, Patient, Site)
    for cls in classes:
        event.listen(cls, "load", keep)
    try:
        yield loaded
    finally:
        for cls in classes:
            event.remove(cls, "load", keep)


@contextmanager
def statements():
    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def test_a_questionnaire_page_builds_no_orm_objects(patient, enrolled, invite):
    patient.opens(invite(enrolled))
    patient.answers(1, {"q1": 3}, action="save")
    with orm_loads() as loaded:
        page = patient.client.get("/survey/1")
    assert page.status_code == 200
    assert loaded == []
    assert "Almería Colorectal Unit" in page.text
    assert 'lang="es"' in page.text  # the patient's stored language
    assert 'name="q1" value="3" checked' in page.text


def test_a_language_pick_and_a_post_read_the_invitation_to_write_through_it(
    patient, enrolled, invite
):
    link = invite(enrolled)
    patient.opens(link)
    with orm_loads() as loaded:
        assert patient.client.get("/survey/1?lang=tr").status_code == 200
    assert "Invitation" in loaded
    assert refreshed(link.invitation).language == "tr"
    with orm_loads() as loaded:
        assert patient.answers(1, QOLAF_51).status_code == 303
    assert "Invitation" in loaded
    page = patient.client.get("/survey/1")
    assert 'lang="tr"' in page.text


def test_a_questionnaire_page_of_a_closed_invitation_says_why_in_plain_reads(
    patient, enrolled, invite
):
    link = invite(enrolled, state="not yet open")
    patient.opens(link)
    not_yet = patient.client.get("/survey/1")
    assert not_yet.status_code == 403
    assert "+34 950 000 000" in not_yet.text
    invitation = refreshed(link.invitation)
    invitation.opens_at = utcnow() - timedelta(days=30)
    invitation.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert patient.client.get("/survey/1").status_code == 410


def test_a_questionnaire_page_is_one_statement_on_postgresql(
    needs_postgresql, patient, enrolled, invite
):
    patient.opens(invite(enrolled))
    patient.answers(1, {"q1": 3}, action="save")
    patient.client.get("/survey/1")
    with statements() as sent:
        page = patient.client.get("/survey/1")
    assert page.status_code == 200
    assert len(sent) == 1, sent
