"""Staff sign-in: what a clinician sees for each way it can go right or wrong."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.models import AuditEvent, StaffSession, utcnow


def test_a_clinician_signs_in_and_lands_on_the_patient_list(client, staff, site, make_user):
    user = make_user("clinician", [site])
    response = staff.login(user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/"
    page = client.get("/clinic/")
    assert page.status_code == 200
    assert "Patients" in page.text


def test_sign_in_ignores_the_case_of_the_email_address(staff, site, make_user):
    make_user("clinician", [site], email="dr.ruiz@clinic.example")
    assert staff.login("  DR.Ruiz@Clinic.Example ").status_code == 302


@pytest.mark.parametrize(
    "email, password",
    [
        ("known", "wrong password here"),
        ("nobody@clinic.example", "correct horse battery staple"),
    ],
)
def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(
    staff, site, make_user, email, password
):
    user = make_user("clinician", [site])
    response = staff.login(user.email if email == "known" else email, password)
    assert response.status_code == 200
    assert "The email or password is not right" in response.text
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed"))
    assert len(failures.all()) == 1


def test_a_disabled_account_cannot_sign_in(staff, site, make_user):
    user = make_user("clinician", [site], active=False)
    response = staff.login(user.email)
    assert response.status_code == 200
    assert "This account is disabled" in response.text
    assert db.session.scalar(select(StaffSession)) is None


def test_disabling_an_account_ends_its_open_sessions(client, staff, site, make_user):
    user = make_user("clinician", [site])
    staff.login(user.email)
    user.active = False
    db.session.commit()
    response = client.get("/clinic/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_session_idle_longer_than_the_limit_expires(client, staff, site, make_user, app):
    user = make_user("clinician", [site])
    staff.login(user.email)
    session_row = db.session.scalar(select(StaffSession))
    session_row.last_seen_at = (
        utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(seconds=1)
    )
    db.session.commit()
    response = client.get("/clinic/", follow_redirects=True)
    assert "signed out after a period of inactivity" in response.text
    db.session.refresh(session_row)
    assert session_row.ended_because == "expired"


def test_an_active_session_is_kept_alive(client, staff, site, make_user, app):
    user = make_user("clinician", [site])
    staff.login(user.email)
    session_row = db.session.scalar(select(StaffSession))
    almost = utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1)
    session_row.last_seen_at = almost
    db.session.commit()
    assert client.get("/clinic/").status_code == 200
    db.session.refresh(session_row)
    assert session_row.last_seen_at > almost


def test_signing_out_ends_the_session_for_good(client, staff, site, make_user):
    user = make_user("clinician", [site])
    staff.login(user.email)
    cookie = client.get_cookie("session")
    staff.logout()
    assert client.get("/clinic/").status_code == 302
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("session", cookie.value)
    assert client.get("/clinic/").status_code == 302


def test_staff_pages_send_visitors_to_sign_in_and_back(client, staff, site, make_user):
    user = make_user("clinician", [site])
    response = client.get("/clinic/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/clinic/"
    response = staff.login(user.email, next_url="/clinic/")
    assert response.headers["Location"] == "/clinic/"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_sign_in_never_redirects_off_site(staff, site, make_user, next_url):
    user = make_user("clinician", [site])
    response = staff.login(user.email, next_url=next_url)
    assert response.headers["Location"] == "/clinic/"


def test_a_login_form_without_its_csrf_token_is_refused(client, site, make_user):
    user = make_user("clinician", [site])
    response = client.post("/login", data={"email": user.email, "password": "x" * 20})
    assert response.status_code == 400
    assert "This form has expired" in response.text


def test_a_clinician_cannot_open_another_sites_patient(
    client, staff, site, other_site, make_user, make_patient
):
    theirs = make_patient(other_site, reference="TR-9", language="tr", phone="+905321234567")
    ours = make_patient(site, reference="ES-1")
    user = make_user("clinician", [site])
    staff.login(user.email)
    assert client.get(f"/clinic/patients/{ours.id}").status_code == 200
    assert client.get(f"/clinic/patients/{theirs.id}").status_code == 404
    listing = client.get("/clinic/").text
    assert "ES-1" in listing and "TR-9" not in listing


def test_viewing_a_patient_is_audited(client, staff, site, make_user, make_patient):
    patient = make_patient(site)
    user = make_user("clinician", [site])
    staff.login(user.email)
    client.get(f"/clinic/patients/{patient.id}")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.view"))
    assert (event.user_id, event.subject_id, event.site_id) == (user.id, patient.id, site.id)
