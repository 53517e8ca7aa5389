"""A second factor for staff (TOTP, as authenticator apps make): setting it up, signing in
with it, codes that work once, and admins who require it."""

import base64
import re
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.auth import views
from survey.domain import totp
from survey.extensions import db
from survey.models import AuditEvent, StaffSession, utcnow
from tests.conftest import PASSWORD, StaffActions, csrf_from, make_app
from tests.fixtures.security import current_code, enrol_second_factor


def post_code(client, code: str, path: str = "/login/code"):
    token = csrf_from(client.get(path).text)
    return client.post(path, data={"code": code, "csrf_token": token})


def shown_key(html: str) -> str:
    return re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")


def audited(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_clinician_sets_up_a_second_factor_from_their_account(app, sign_in, site):
    staff = sign_in("clinician", [site])
    page = staff.client.get("/account/two-factor")
    assert page.status_code == 200
    key = shown_key(page.text)
    assert len(key) == 32
    assert "otpauth://totp/" in page.text
    # Reloading the page shows the same key: the phone may already hold it.
    assert shown_key(staff.client.get("/account/two-factor").text) == key

    wrong = post_code(staff.client, "123456", "/account/two-factor")
    assert wrong.status_code == 422 and "not right" in wrong.text
    response = post_code(staff.client, totp.code_for(key, utcnow()), "/account/two-factor")
    assert response.status_code == 303
    db.session.refresh(staff.user)
    assert staff.user.totp_secret == key
    assert len(audited("2fa.enrolled")) == 1
    assert staff.client.get("/clinic/").status_code == 200  # still signed in, on a new token


def test_setting_up_a_second_factor_signs_out_other_browsers(app, sign_in, site):
    staff = sign_in("clinician", [site])
    other = app.test_client()
    StaffActions(other).login(staff.user.email)
    key = shown_key(staff.client.get("/account/two-factor").text)
    post_code(staff.client, totp.code_for(key, utcnow()), "/account/two-factor")
    assert other.get("/clinic/").status_code == 302


def test_signing_in_with_a_second_factor_takes_the_password_then_a_code(
    client, staff, site, make_user
):
    user = make_user("clinician", [site])
    secret = enrol_second_factor(user)
    response = staff.login(user.email, next_url="/clinic/exports")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/code"
    # Not signed in yet: no session exists before the code.
    assert client.get("/clinic/").status_code == 302
    assert db.session.scalar(select(StaffSession)) is None
    response = post_code(client, current_code(secret))
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinic/exports"
    assert client.get("/clinic/").status_code == 200
    assert audited("login")[-1].detail == {"second_factor": True}


def test_a_wrong_password_never_reaches_the_code_page(client, staff, site, make_user):
    user = make_user("clinician", [site])
    enrol_second_factor(user)
    response = staff.login(user.email, "wrong password!")
    assert response.status_code == 200
    assert "The email or password is not right" in response.text
    assert client.get("/login/code").status_code == 302  # back to the password page


def test_a_code_works_once(app, client, staff, site, make_user):
    user = make_user("clinician", [site])
    secret = enrol_second_factor(user)
    code = current_code(secret)
    staff.login(user.email)
    assert post_code(client, code).status_code == 302
    # Someone who saw the code over the shoulder, in another browser, moments later:
    thief = app.test_client()
    StaffActions(thief).login(user.email)
    replay = post_code(thief, code)
    assert replay.status_code == 200
    assert "used already" in replay.text
    assert thief.get("/clinic/").status_code == 302
    assert audited("login.failed")[-1].detail == {"reason": "code"}


def test_a_code_from_a_step_ago_is_accepted_for_clock_drift_but_not_older(app):
    secret = totp.new_secret()
    now = utcnow()
    assert totp.accepted_step(secret, totp.code_for(secret, now - timedelta(seconds=30)), None, now)
    assert totp.accepted_step(secret, totp.code_for(secret, now + timedelta(seconds=30)), None, now)
    old = totp.code_for(secret, now - timedelta(minutes=3))
    if old != totp.code_for(secret, now):  # one chance in a million they coincide
        assert totp.accepted_step(secret, old, None, now) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5x"])
def test_codes_that_are_not_six_digits_are_refused(typed):
    assert totp.accepted_step(totp.new_secret(), typed, None, utcnow()) is None


def test_a_code_typed_with_spaces_is_accepted():
    secret, now = totp.new_secret(), utcnow()
    code = totp.code_for(secret, now)
    assert totp.accepted_step(secret, f"{code[:3]} {code[3:]}", None, now) is not None


def test_the_code_page_forgets_a_password_accepted_too_long_ago(
    client, staff, site, make_user, monkeypatch
):
    user = make_user("clinician", [site])
    secret = enrol_second_factor(user)
    staff.login(user.email)
    token = csrf_from(client.get("/login/code").text)
    monkeypatch.setattr(views, "PENDING_SECONDS", -1)
    response = client.post("/login/code", data={"code": current_code(secret), "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/clinic/").status_code == 302


def test_an_account_disabled_between_password_and_code_cannot_finish(
    client, staff, site, make_user
):
    user = make_user("clinician", [site])
    secret = enrol_second_factor(user)
    staff.login(user.email)
    token = csrf_from(client.get("/login/code").text)
    user.active = False
    db.session.commit()
    response = client.post("/login/code", data={"code": current_code(secret), "csrf_token": token})
    assert response.headers["Location"] == "/login"
    assert client.get("/clinic/").status_code == 302


def test_an_admin_can_require_a_second_factor_and_the_user_must_set_it_up(
    app, sign_in, site, runner
):
    staff = sign_in("clinician", [site])
    result = runner.invoke(args=["users", "require-2fa", staff.user.email])
    assert result.exit_code == 0, result.output
    # Every staff page now leads to setting it up first; signing out still works.
    response = staff.client.get("/clinic/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
    page = staff.client.get("/account/two-factor")
    assert page.status_code == 200
    post_code(staff.client, totp.code_for(shown_key(page.text), utcnow()), "/account/two-factor")
    assert staff.client.get("/clinic/").status_code == 200
    assert len(audited("2fa.required")) == 1


def test_a_role_can_be_required_to_use_a_second_factor(schema, site, make_user):
    app = make_app(schema, TOTP_REQUIRED_ROLES="admin, clinician")
    client = app.test_client()
    StaffActions(client).login(make_user("admin", [site]).email)
    assert client.get("/clinic/").headers["Location"] == "/account/two-factor"
    coordinator = app.test_client()
    StaffActions(coordinator).login(make_user("coordinator", [site]).email)
    assert coordinator.get("/clinic/").status_code == 200


def test_a_required_second_factor_cannot_be_turned_off_by_its_user(sign_in, site):
    staff = sign_in("clinician", [site], email="dr.required@clinic.example")
    secret = enrol_second_factor(staff.user)
    staff.user.totp_required = True
    db.session.commit()
    token = csrf_from(staff.client.get("/account/two-factor").text)
    response = staff.client.post(
        "/account/two-factor",
        data={"password": PASSWORD, "code": current_code(secret), "csrf_token": token},
    )
    assert "cannot be turned off" in response.text
    db.session.refresh(staff.user)
    assert staff.user.totp_secret == secret


def test_turning_off_the_second_factor_needs_the_password_and_a_code(sign_in, site):
    staff = sign_in("clinician", [site])
    secret = enrol_second_factor(staff.user)
    token = csrf_from(staff.client.get("/account/two-factor").text)
    refused = staff.client.post(
        "/account/two-factor",
        data={"password": "not the password", "code": current_code(secret), "csrf_token": token},
    )
    assert refused.status_code == 422
    db.session.refresh(staff.user)
    assert staff.user.totp_secret == secret
    done = staff.client.post(
        "/account/two-factor",
        data={"password": PASSWORD, "code": current_code(secret), "csrf_token": token},
    )
    assert done.status_code == 303
    db.session.refresh(staff.user)
    assert staff.user.totp_secret is None
    assert len(audited("2fa.removed")) == 1


def test_an_admin_resets_a_lost_second_factor_from_the_command_line(sign_in, site, runner):
    staff = sign_in("clinician", [site])
    enrol_second_factor(staff.user)
    result = runner.invoke(args=["users", "reset-2fa", staff.user.email])
    assert result.exit_code == 0, result.output
    db.session.refresh(staff.user)
    assert staff.user.totp_secret is None
    assert staff.client.get("/clinic/").status_code == 302  # signed out everywhere
    assert audited("2fa.reset")[0].detail["by"] == "command line"


def test_the_key_never_reaches_the_audit_trail_or_a_cookie(sign_in, site):
    staff = sign_in("clinician", [site])
    key = shown_key(staff.client.get("/account/two-factor").text)
    post_code(staff.client, totp.code_for(key, utcnow()), "/account/two-factor")
    for event in db.session.scalars(select(AuditEvent)):
        assert key not in str(event.detail)
    cookie = staff.client.get_cookie("session").value
    payload = cookie.split(".")[0] if not cookie.startswith(".") else cookie.split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.startswith("."):
        decoded = zlib.decompress(decoded)
    assert key.encode() not in decoded
