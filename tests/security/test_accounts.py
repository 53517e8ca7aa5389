"""Staff accounts: changing a password, disabling an account or ending sessions signs the
account out everywhere else, at once; and every step is in the audit trail."""

from sqlalchemy import select

from survey.extensions import db
from survey.models import AuditEvent, StaffSession
from survey.passwords import check_password
from tests.conftest import PASSWORD, StaffActions, csrf_from

NEW_PASSWORD = "a brand new passphrase of mine"  # noqa: S105 (test data)


def change_password(staff, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    token = csrf_from(staff.client.get("/account/password").text)
    return staff.client.post(
        "/account/password",
        data={"current": current, "new": new, "confirm": confirm or new, "csrf_token": token},
    )


def second_browser(app, user, password=PASSWORD):
    client = app.test_client()
    assert StaffActions(client).login(user.email, password).status_code == 302
    return client


def actions(user) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == user.id)
            .order_by(AuditEvent.id)
        )
    )


def test_the_account_page_shows_where_the_account_is_signed_in(app, sign_in, site):
    staff = sign_in("clinician", [site])
    second_browser(app, staff.user)
    page = staff.client.get("/account", headers={"User-Agent": "Firefox on the ward PC"})
    assert page.status_code == 200
    assert staff.user.email in page.text
    assert "this browser" in page.text
    assert "Sign out everywhere else" in page.text


def test_changing_the_password_signs_out_every_other_browser(app, sign_in, site):
    staff = sign_in("clinician", [site])
    other = second_browser(app, staff.user)
    old_cookie = staff.client.get_cookie("session").value
    response = change_password(staff)
    assert response.status_code == 303
    assert staff.client.get("/clinic/").status_code == 200  # this browser carries on
    assert other.get("/clinic/").status_code == 302  # the other one is signed out
    # The session token changed too: the cookie from before the change is dead.
    other.set_cookie("session", old_cookie)
    assert other.get("/clinic/").status_code == 302
    db.session.refresh(staff.user)
    assert check_password(staff.user.password_hash, NEW_PASSWORD)
    assert staff.user.password_changed_at is not None
    assert "password.changed" in actions(staff.user)


def test_the_new_password_works_and_the_old_one_does_not(app, sign_in, site):
    staff = sign_in("clinician", [site])
    change_password(staff)
    client = app.test_client()
    assert StaffActions(client).login(staff.user.email, PASSWORD).status_code == 200
    assert StaffActions(client).login(staff.user.email, NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(sign_in, site):
    staff = sign_in("clinician", [site])
    response = change_password(staff, current="not my password at all")
    assert response.status_code == 200
    assert "Your current password is not right." in response.text
    db.session.refresh(staff.user)
    assert check_password(staff.user.password_hash, PASSWORD)
    assert "password.change_failed" in actions(staff.user)


def test_a_short_or_mismatched_new_password_is_refused_in_the_staff_language(sign_in, site):
    staff = sign_in("clinician", [site])
    assert "at least 12 characters" in change_password(staff, new="short").text
    assert "The new passwords differ." in change_password(staff, confirm="something else!!").text
    same = change_password(staff, new=PASSWORD)
    assert "different from the current one" in same.text
    db.session.refresh(staff.user)
    assert check_password(staff.user.password_hash, PASSWORD)


def test_ending_the_other_sessions_keeps_this_one(app, sign_in, site):
    staff = sign_in("coordinator", [site])
    other = second_browser(app, staff.user)
    token = staff.csrf()
    response = staff.client.post("/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 303
    assert other.get("/clinic/").status_code == 302
    assert staff.client.get("/clinic/").status_code == 200
    assert "sessions.ended" in actions(staff.user)


def test_ending_sessions_needs_the_form_token(app, sign_in, site):
    staff = sign_in("coordinator", [site])
    other = second_browser(app, staff.user)
    assert staff.client.post("/account/sessions/end-others").status_code == 400
    assert other.get("/clinic/").status_code == 200


def test_account_pages_need_a_signed_in_user(client):
    for path in ("/account", "/account/password", "/account/two-factor"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_disabling_an_account_from_the_command_line_ends_its_sessions_at_once(
    app, sign_in, site, runner
):
    staff = sign_in("clinician", [site])
    result = runner.invoke(args=["users", "disable", staff.user.email])
    assert result.exit_code == 0, result.output
    assert staff.client.get("/clinic/").status_code == 302
    db.session.expire_all()
    ended = db.session.scalars(select(StaffSession.ended_because)).all()
    assert ended == ["user disabled"]
    assert "user.disabled" in actions(staff.user)
    assert runner.invoke(args=["users", "enable", staff.user.email]).exit_code == 0
    assert "user.enabled" in actions(staff.user)


def test_setting_a_password_from_the_command_line_ends_sessions(app, sign_in, site, runner):
    staff = sign_in("admin", [site])
    result = runner.invoke(
        args=["users", "set-password", staff.user.email, "--password-stdin"],
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert staff.client.get("/clinic/").status_code == 302
    weak = runner.invoke(
        args=["users", "set-password", staff.user.email, "--password-stdin"], input="short\n"
    )
    assert weak.exit_code != 0 and "too weak" in weak.output


def test_commands_name_no_one_who_does_not_exist(runner):
    for command in ("disable", "enable", "require-2fa", "reset-2fa", "end-sessions"):
        result = runner.invoke(args=["users", command, "nobody@clinic.example"])
        assert result.exit_code != 0 and "no account" in result.output


def test_sign_in_and_out_are_audited_with_the_address(app, staff, site, make_user):
    user = make_user("clinician", [site])
    staff.login(user.email, "wrong password!")
    staff.login(user.email)
    staff.logout()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.startswith("log")).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["login.failed", "login", "logout"]
    assert all(e.remote_addr == "127.0.0.1" for e in events)
    assert events[1].detail == {"second_factor": False}


def test_a_new_session_records_where_it_was_opened(client, staff, site, make_user):
    user = make_user("clinician", [site])
    client.get("/login")
    staff.login(user.email)
    row = db.session.scalar(select(StaffSession))
    assert row.remote_addr == "127.0.0.1"
    assert row.user_agent is not None
