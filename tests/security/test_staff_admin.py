"""The admin staff page: an admin looks after the security of their sites' accounts (second
factor, disable, sign out everywhere), every change audited, and only for accounts that
belong to no site outside theirs."""

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.models import AuditEvent, User
from tests.fixtures.security import enrol_second_factor


@pytest.fixture
def admin(sign_in, site):
    return sign_in("admin", [site], email="admin@clinic.example")


def post(staff, user: User, action: str):
    return staff.client.post(
        f"/clinic/admin/staff/{user.id}/{action}", data={"csrf_token": staff.csrf()}
    )


def audited(action: str, subject: User) -> AuditEvent | None:
    return db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == action,
            AuditEvent.subject_type == "user",
            AuditEvent.subject_id == subject.id,
        )
    )


def test_an_admin_sees_the_accounts_of_their_sites_only(admin, site, other_site, make_user):
    colleague = make_user("clinician", [site], email="colleague@clinic.example")
    make_user("clinician", [other_site], email="stranger@elsewhere.example")
    page = admin.client.get("/clinic/admin/staff")
    assert page.status_code == 200
    assert colleague.email in page.text and admin.user.email in page.text
    assert "stranger@elsewhere.example" not in page.text


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_only_admins_use_the_staff_page(sign_in, site, make_user, role):
    other = make_user("clinician", [site])
    staff = sign_in(role, [site])
    assert staff.client.get("/clinic/admin/staff").status_code == 403
    assert post(staff, other, "disable").status_code == 403
    db.session.refresh(other)
    assert other.active


def test_disabling_signs_the_account_out_at_once_and_is_audited(admin, sign_in, site):
    colleague = sign_in("clinician", [site])
    assert colleague.client.get("/clinic/").status_code == 200
    response = post(admin, colleague.user, "disable")
    assert response.status_code == 302
    assert "was disabled" in admin.client.get(response.location).text
    db.session.refresh(colleague.user)
    assert not colleague.user.active
    assert colleague.client.get("/clinic/").status_code == 302  # back to the sign-in page
    event = audited("user.disabled", colleague.user)
    assert event.user_id == admin.user.id and event.detail["sessions_ended"] == 1

    post(admin, colleague.user, "enable")
    db.session.refresh(colleague.user)
    assert colleague.user.active and audited("user.enabled", colleague.user)


def test_requiring_a_second_factor_sends_the_user_to_set_one_up(admin, sign_in, site):
    colleague = sign_in("coordinator", [site])
    post(admin, colleague.user, "require-2fa")
    db.session.refresh(colleague.user)
    assert colleague.user.totp_required
    response = colleague.client.get("/coordinate/")
    assert response.status_code == 302 and response.location.endswith("/account/two-factor")
    assert audited("2fa.required", colleague.user).user_id == admin.user.id

    post(admin, colleague.user, "stop-requiring-2fa")
    db.session.refresh(colleague.user)
    assert not colleague.user.totp_required and audited("2fa.not_required", colleague.user)


def test_a_lost_phone_removes_the_factor_and_every_session(admin, sign_in, site):
    colleague = sign_in("clinician", [site])
    enrol_second_factor(colleague.user)
    post(admin, colleague.user, "reset-2fa")
    db.session.refresh(colleague.user)
    assert colleague.user.totp_secret is None
    assert colleague.client.get("/clinic/").status_code == 302
    assert audited("2fa.reset", colleague.user).detail["sessions_ended"] == 1


def test_signing_out_everywhere_ends_the_accounts_sessions(admin, sign_in, site):
    colleague = sign_in("clinician", [site])
    post(admin, colleague.user, "end-sessions")
    assert colleague.client.get("/clinic/").status_code == 302
    db.session.refresh(colleague.user)
    assert colleague.user.active
    assert audited("sessions.ended", colleague.user).detail["sessions"] == 1


def test_an_admin_cannot_lock_themselves_out_here(admin):
    assert post(admin, admin.user, "disable").status_code == 403
    db.session.refresh(admin.user)
    assert admin.user.active


def test_an_account_shared_with_another_site_is_for_an_admin_of_both(
    admin, sign_in, site, other_site, make_user
):
    shared = make_user("clinician", [site, other_site])
    assert post(admin, shared, "disable").status_code == 403
    head = sign_in("admin", [site, other_site])
    assert post(head, shared, "disable").status_code == 302
    db.session.refresh(shared)
    assert not shared.active


def test_another_sites_account_is_not_found(admin, other_site, make_user):
    stranger = make_user("clinician", [other_site])
    assert post(admin, stranger, "disable").status_code == 404
    db.session.refresh(stranger)
    assert stranger.active and audited("user.disabled", stranger) is None


def test_a_change_without_the_forms_token_is_refused(admin, site, make_user):
    colleague = make_user("clinician", [site])
    response = admin.client.post(f"/clinic/admin/staff/{colleague.id}/disable")
    assert response.status_code == 400
    db.session.refresh(colleague)
    assert colleague.active
