"""A form posted again once the first post is stored (a second click after a slow answer, a
reload that re-posts): the second post gets the normal page, showing what the first made, and
nothing is stored twice. A different form that only shares the name or reference still gets
a clear message. Runs on SQLite and PostgreSQL; test_double_posts.py races the posts."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Message, MessageKind, MessageStatus, Patient, Schedule, utcnow
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.conftest import csrf_from

FOLLOW_UP = "/clinic/follow-up"
SCHEDULE = {
    "name": "Seton follow-up",
    "timepoints-0-label": "baseline",
    "timepoints-0-day": "-7",
    "timepoints-0-window_days": "7",
    "timepoints-0-instruments": ["qolaf-q", "ccis"],
}


@pytest.fixture
def admin(client, staff, site, make_user):
    user = make_user("admin", [site])
    staff.login(user.email)
    return user


def twice(client, path: str, data: dict, page: str | None = None):
    token = csrf_from(client.get(page or path).text)
    return [client.post(path, data={**data, "csrf_token": token}) for _ in range(2)]


def shown(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).text


def test_a_schedule_posted_twice_is_made_once(client, admin):
    first, second = twice(client, f"{FOLLOW_UP}/schedules/new", SCHEDULE)
    assert first.headers["Location"] == second.headers["Location"] == f"{FOLLOW_UP}/schedules"
    assert "Seton follow-up is ready for enrolments" in shown(client, second)
    assert (
        db.session.scalar(select(func.count(Schedule.id)).where(Schedule.name == "Seton follow-up"))
        == 1
    )


def test_another_schedule_with_a_taken_name_is_told_so(client, admin):
    twice(client, f"{FOLLOW_UP}/schedules/new", SCHEDULE)
    different = {**SCHEDULE, "timepoints-0-day": "-14"}
    token = csrf_from(client.get(f"{FOLLOW_UP}/schedules/new").text)
    page = client.post(f"{FOLLOW_UP}/schedules/new", data={**different, "csrf_token": token})
    assert page.status_code == 200
    assert "A schedule called Seton follow-up already exists." in page.text


def enrolment(site, **changes) -> dict:
    schedule = ensure_default_schedule(db.session)
    db.session.commit()
    return {
        "site_id": site.id,
        "reference": "P-TWICE",
        "phone": "+34 612 000 999",
        "language": "es",
        "timezone": "Europe/Madrid",
        "index_date": str((utcnow() + timedelta(days=30)).date()),
        "schedule_id": schedule.id,
        **changes,
    }


def test_an_enrolment_posted_twice_shows_the_patient_it_made(client, admin, site):
    first, second = twice(client, f"{FOLLOW_UP}/enrol", enrolment(site))
    patient = db.session.scalar(select(Patient).where(Patient.reference == "P-TWICE"))
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Location"] == f"{FOLLOW_UP}/patients/{patient.id}"
    assert "P-TWICE is already enrolled with these details." in shown(client, second)
    assert db.session.scalar(select(func.count(Patient.id))) == 1


def test_another_patient_with_a_taken_reference_is_told_so(client, admin, site):
    twice(client, f"{FOLLOW_UP}/enrol", enrolment(site))
    token = csrf_from(client.get(f"{FOLLOW_UP}/enrol").text)
    other = enrolment(site, phone="+34 622 000 888", csrf_token=token)
    page = client.post(f"{FOLLOW_UP}/enrol", data=other)
    assert page.status_code == 200
    assert "already has a patient with reference &#39;P-TWICE&#39;" in page.text
    assert db.session.scalar(select(func.count(Patient.id))) == 1


def test_a_sender_name_posted_twice_is_stored_once(client, admin, site):
    first, second = twice(client, f"{FOLLOW_UP}/texts", {"site_id": site.id, "name": "H. Sur"})
    assert first.status_code == second.status_code == 302
    assert "now start with H. Sur" in shown(client, second)


def test_send_the_link_again_twice_sends_one_message(client, admin, site):
    twice(
        client,
        f"{FOLLOW_UP}/enrol",
        enrolment(site, index_date=str((utcnow() + timedelta(days=7)).date())),
    )
    patient = db.session.scalar(select(Patient))
    message = db.session.scalar(
        select(Message).where(
            Message.patient_id == patient.id, Message.kind == MessageKind.INVITATION
        )
    )
    message.status, message.attempts = MessageStatus.DELIVERED, 1
    db.session.commit()
    first, second = twice(
        client,
        f"{FOLLOW_UP}/invitations/{message.invitation_id}/resend",
        {"back": "patient"},
        page=f"{FOLLOW_UP}/patients/{patient.id}",
    )
    assert first.status_code == second.status_code == 302
    assert "already on its way" in shown(client, second)
    sent = select(func.count(Message.id)).where(
        Message.invitation_id == message.invitation_id, Message.kind == MessageKind.INVITATION
    )
    assert db.session.scalar(sent) == 2


def test_a_second_press_that_read_the_clock_first_still_finds_the_link_on_its_way(
    client, admin, site
):
    """Two presses at once: the one that takes the lock first may have read the clock a
    moment after the other, so its new message is due after the waiting press's `now`."""
    from survey.outreach.actions import ActionError, resend_link

    twice(
        client,
        f"{FOLLOW_UP}/enrol",
        enrolment(site, index_date=str((utcnow() + timedelta(days=7)).date())),
    )
    first = db.session.scalar(select(Message).where(Message.kind == MessageKind.INVITATION))
    first.status, first.attempts = MessageStatus.DELIVERED, 1
    db.session.commit()
    earlier = utcnow()
    resend_link(db.session, first.invitation, admin, earlier + timedelta(milliseconds=5))
    db.session.commit()
    with pytest.raises(ActionError, match="already on its way"):
        resend_link(db.session, first.invitation, admin, earlier)
    db.session.rollback()
    sent = select(func.count(Message.id)).where(
        Message.invitation_id == first.invitation_id, Message.kind == MessageKind.INVITATION
    )
    assert db.session.scalar(sent) == 2
