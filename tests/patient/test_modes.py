"""Every response records how it was given and who typed it in."""

from sqlalchemy import select

from survey.domain import submission
from survey.extensions import db
from survey.models import Response, ResponseMode, Role
from tests.fixtures.patients import CCIS_10, QOLAF_51


def test_a_patient_answering_on_their_phone_is_recorded_as_web_with_no_staff(
    enrolled, invite, patient
):
    link = invite(enrolled)
    patient.opens(link)
    patient.completes(QOLAF_51, CCIS_10)
    stored = db.session.scalars(select(Response)).all()
    assert len(stored) == 2
    assert {(r.mode, r.entered_by_id) for r in stored} == {(ResponseMode.WEB, None)}


def test_answers_entered_from_paper_keep_the_mode_and_the_member_of_staff(
    enrolled, invite, make_user
):
    coordinator = make_user(Role.COORDINATOR)
    invitation = invite(enrolled).invitation
    submission.save_answers(db.session, invitation.id, "qolaf-q", QOLAF_51)
    result = submission.submit(
        db.session,
        invitation.id,
        "es",
        last_page=("ccis", CCIS_10),
        mode=ResponseMode.PAPER,
        entered_by_id=coordinator.id,
    )
    assert result.first_time
    db.session.expire_all()
    stored = db.session.scalars(select(Response)).all()
    assert {(r.mode, r.entered_by_id) for r in stored} == {("paper", coordinator.id)}
    assert stored[0].entered_by.email == coordinator.email
