"""Double-clicks and impatient second clicks: the same form posted several times at the same
moment, through gunicorn with several workers on PostgreSQL (SQLite serialises writers, so only
PostgreSQL can race them). Every form that creates a row answers each post with the normal
page, never a 500, and stores the row once.

The one-after-the-other case (the second post arrives once the first is stored) is tested on
both databases in test_double_posts_in_turn.py."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import (
    AuditEvent,
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    Schedule,
    SmsSender,
    StaffSession,
    utcnow,
)
from survey.outreach.patient_schedule import enrol
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.conftest import PASSWORD, csrf_from
from tests.fixtures.outreach import RULES
from tests.servers import gunicorn

pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("needs_postgresql")]

WORKERS, THREADS = 4, 4
CLICKS = 8  # posts of one form at the same moment
FOLLOW_UP = "/clinic/follow-up"


@pytest.fixture(scope="module")
def server(schema, tmp_path_factory):
    log = tmp_path_factory.mktemp("double-posts") / "server.log"
    with gunicorn(schema, log, WORKERS, THREADS) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


class Browser:
    """One signed-in member of staff; `clicks` posts a form several times at once, each on a
    connection of its own, all with this browser's cookies and form token."""

    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.http = requests.Session()
        page = self.http.get(f"{base}/login", timeout=30)
        signed_in = self.http.post(
            f"{base}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
            allow_redirects=False,
            timeout=60,
        )
        assert signed_in.status_code == 302, signed_in.text
        self.token = csrf_from(self.http.get(f"{base}{FOLLOW_UP}/enrol", timeout=30).text)

    def clicks(self, path: str, data: dict, times: int = CLICKS) -> list[requests.Response]:
        cookies = self.http.cookies.get_dict()
        form = {**data, "csrf_token": self.token}
        start = threading.Barrier(times)

        def click(_):
            start.wait()
            return requests.post(
                self.base + path,
                data=form,
                cookies=cookies,
                headers={"Connection": "close"},
                allow_redirects=False,
                timeout=120,
            )

        with ThreadPoolExecutor(times) as pool:
            responses = list(pool.map(click, range(times)))
        statuses = [response.status_code for response in responses]
        assert all(status < 500 for status in statuses), statuses
        return responses


@pytest.fixture
def admin(server, site, make_user) -> Browser:
    return Browser(server, make_user("admin", [site]).email)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def enrolled_now(site, reference: str, phone: str, schedule=True) -> Patient:
    now = utcnow()
    patient, _ = enrol(
        db.session,
        site,
        reference,
        phone,
        "es",
        None,
        (now + timedelta(days=7)).date(),  # the baseline is open today
        ensure_default_schedule(db.session) if schedule else None,
        now,
        RULES,
    )
    db.session.commit()
    return patient


def invitation_message(patient: Patient) -> Message:
    return db.session.scalars(
        select(Message)
        .where(Message.patient_id == patient.id, Message.kind == MessageKind.INVITATION)
        .order_by(Message.id)
    ).first()


def test_a_new_schedule_posted_at_once_is_stored_once(admin):
    form = {
        "name": "Seton follow-up",
        "description": "Seton placement, then 6 weeks.",
        "timepoints-0-label": "baseline",
        "timepoints-0-day": "-7",
        "timepoints-0-window_days": "7",
        "timepoints-0-reminder_days": "3",
        "timepoints-0-instruments": ["qolaf-q", "ccis"],
        "timepoints-1-label": "6 weeks",
        "timepoints-1-day": "42",
        "timepoints-1-window_days": "14",
        "timepoints-1-instruments": ["ccis"],
    }
    responses = admin.clicks(f"{FOLLOW_UP}/schedules/new", form)
    # Every click lands where the first one does: the list of schedules.
    assert {(r.status_code, r.headers["Location"]) for r in responses} == {
        (302, f"{FOLLOW_UP}/schedules")
    }
    assert count(Schedule, Schedule.name == "Seton follow-up") == 1
    assert count(AuditEvent, AuditEvent.action == "schedule.create") == 1


def test_a_sites_first_sender_name_posted_at_once_is_stored_once(admin, site):
    responses = admin.clicks(f"{FOLLOW_UP}/texts", {"site_id": site.id, "name": "Hospital Sur"})
    assert {r.status_code for r in responses} == {302}
    assert count(SmsSender) == 1
    assert db.session.get(SmsSender, site.id).name == "Hospital Sur"


def test_an_enrolment_posted_at_once_enrols_the_patient_once(admin, site):
    schedule = ensure_default_schedule(db.session)
    db.session.commit()
    form = {
        "site_id": site.id,
        "reference": "P-DOUBLE-1",
        "phone": "+34 612 000 111",
        "language": "es",
        "timezone": "Europe/Madrid",
        "index_date": str((utcnow() + timedelta(days=30)).date()),
        "schedule_id": schedule.id,
    }
    responses = admin.clicks(f"{FOLLOW_UP}/enrol", form)
    patients = db.session.scalars(select(Patient).where(Patient.reference == "P-DOUBLE-1")).all()
    assert len(patients) == 1
    # Every click is taken to that patient's page.
    assert {r.headers["Location"] for r in responses} == {f"{FOLLOW_UP}/patients/{patients[0].id}"}
    timepoints = db.session.scalars(
        select(Invitation.timepoint_id).where(Invitation.patient_id == patients[0].id)
    ).all()
    assert timepoints and len(timepoints) == len(set(timepoints))
    assert count(AuditEvent, AuditEvent.action == "patient.enrol") == 1


def test_an_edit_that_plans_invitations_posted_at_once_plans_them_once(admin, site):
    patient = enrolled_now(site, "P-DOUBLE-2", "+34612000222", schedule=False)
    schedule = ensure_default_schedule(db.session)
    db.session.commit()
    form = {
        "phone": "+34612000222",
        "language": "es",
        "timezone": patient.timezone,
        "index_date": str((utcnow() + timedelta(days=30)).date()),
        "schedule_id": schedule.id,
    }
    responses = admin.clicks(f"{FOLLOW_UP}/patients/{patient.id}/edit", form)
    assert {r.status_code for r in responses} == {302}
    timepoints = db.session.scalars(
        select(Invitation.timepoint_id).where(
            Invitation.patient_id == patient.id, Invitation.status != InvitationStatus.CANCELLED
        )
    ).all()
    assert len(timepoints) == len(schedule.timepoints) == len(set(timepoints))
    edits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.edit")).all()
    assert sorted(bool(event.detail["changed"]) for event in edits) == [False] * (CLICKS - 1) + [
        True
    ]


def test_send_the_link_again_pressed_at_once_sends_one_message(admin, site):
    patient = enrolled_now(site, "P-DOUBLE-3", "+34612000333")
    first = invitation_message(patient)
    first.status, first.attempts, first.finished_at = MessageStatus.DELIVERED, 1, utcnow()
    db.session.commit()
    responses = admin.clicks(f"{FOLLOW_UP}/invitations/{first.invitation_id}/resend", {})
    assert {r.status_code for r in responses} == {302}
    assert (
        count(
            Message,
            Message.invitation_id == first.invitation_id,
            Message.kind == MessageKind.INVITATION,
        )
        == 2
    )
    assert count(AuditEvent, AuditEvent.action == "invitation.resend") == 1


def test_retry_pressed_at_once_sends_one_message(admin, site):
    patient = enrolled_now(site, "P-DOUBLE-4", "+34612000444")
    failed = invitation_message(patient)
    failed.status, failed.attempts, failed.error_code = MessageStatus.FAILED, 1, 30003
    failed.finished_at = utcnow()
    db.session.commit()
    admin.clicks(f"{FOLLOW_UP}/messages/{failed.id}/retry", {"back": "patient"})
    assert count(Message, Message.retry_of_id == failed.id) == 1
    assert count(AuditEvent, AuditEvent.action == "message.retry") == 1


@pytest.mark.parametrize(
    "action, status", [("pause", PatientStatus.PAUSED), ("withdraw", PatientStatus.WITHDRAWN)]
)
def test_pause_and_withdraw_pressed_at_once_act_once(admin, site, action, status):
    patient = enrolled_now(site, f"P-DOUBLE-{action}", "+34612000555")
    responses = admin.clicks(f"{FOLLOW_UP}/patients/{patient.id}/{action}", {})
    assert {r.status_code for r in responses} == {302}
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).status == status
    assert count(AuditEvent, AuditEvent.action == f"patient.{action}") == 1


def test_sign_in_pressed_at_once_signs_in_without_an_error(server, site, make_user):
    user = make_user("clinician", [site])
    http = requests.Session()
    token = csrf_from(http.get(f"{server}/login", timeout=30).text)
    browser = Browser.__new__(Browser)
    browser.base, browser.http, browser.token = server, http, token
    responses = browser.clicks("/login", {"email": user.email, "password": PASSWORD})
    assert {r.status_code for r in responses} == {302}
    # Each post is a sign-in of its own; the browser keeps the last one's session.
    assert count(StaffSession, StaffSession.user_id == user.id) == CLICKS
