"""Administration in the web: an admin adds and edits their own sites, adds staff, and hands
over one-time links to set a password. Other roles cannot reach these pages (403), and an
admin cannot reach another admin's sites or accounts (404)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.domain import password_links, totp
from survey.extensions import db
from survey.models import AuditEvent, PasswordLink, Site, SmsSender, User, utcnow
from tests.conftest import StaffActions, csrf_from

NEW_PASSWORD = "a long and private passphrase"
LINK = re.compile(r'value="(https?://[^"]+/account/set-password/([A-Za-z0-9_-]{43}))"')


@pytest.fixture
def admin(sign_in, site):
    return sign_in("admin", [site], email="admin@clinic.example")


def site_form(**changes) -> dict:
    form = {
        "name": "Hospital Norte",
        "country": "ES",
        "timezone": "Europe/Madrid",
        "default_language": "es",
        "contact": "+34 950 000 000",
        "sms_name": "Hospital Norte",
    }
    form.update(changes)
    return form


def post(staff, path: str, data: dict):
    return staff.client.post(path, data={**data, "csrf_token": staff.csrf(path)})


def actions(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def add_clinician(admin, site, email="new.clinician@clinic.example", **changes):
    data = {
        "email": email,
        "role": "clinician",
        "site_ids": [site.id],
        "require_second_factor": "y",
        **changes,
    }
    response = post(admin, "/clinic/admin/staff/new", data)
    return response


def test_an_admin_adds_a_site_they_then_administer(admin):
    response = post(admin, "/clinic/admin/sites/new", site_form())
    assert response.status_code == 303, response.text
    site = db.session.scalar(select(Site).where(Site.name == "Hospital Norte"))
    assert (site.country, site.timezone, site.default_language) == ("ES", "Europe/Madrid", "es")
    assert db.session.get(SmsSender, site.id).name == "Hospital Norte"
    db.session.refresh(admin.user)
    assert site.id in admin.user.site_ids
    page = admin.client.get("/clinic/admin/sites")
    assert "Hospital Norte" in page.text and "Spain (ES)" in page.text
    assert actions("site.created")[0].detail["country"] == "ES"


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"country": ""}, "Choose a country."),
        ({"country": "XX"}, "Not a valid choice"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"name": ""}, "The site name"),
        ({"sms_name": "Fistula Clinic"}, "Choose a neutral name"),
        ({"name": "Almería Colorectal Unit"}, "already exists"),
    ],
)
def test_a_site_with_a_bad_field_is_refused_with_a_message(admin, changes, words):
    before = db.session.scalar(select(func.count(Site.id)))
    response = post(admin, "/clinic/admin/sites/new", site_form(**changes))
    assert response.status_code == 422
    assert words in response.text
    assert db.session.scalar(select(func.count(Site.id))) == before


def test_an_admin_edits_their_site_and_the_change_is_audited(admin, site):
    response = post(
        admin, f"/clinic/admin/sites/{site.id}", site_form(name=site.name, country="ES")
    )
    assert response.status_code == 303
    db.session.refresh(site)
    assert site.country == "ES" and site.contact == "+34 950 000 000"
    changed = actions("site.changed")[0].detail["changed"]
    assert changed["country"] == [None, "ES"] and changed["sms_name"] == ["", "Hospital Norte"]
    assert actions("site.changed")[0].site_id == site.id


def test_patients_see_their_own_totals_only_once_an_admin_turns_it_on(admin, site):
    added = post(admin, "/clinic/admin/sites/new", site_form())
    assert added.status_code == 303
    new = db.session.scalar(select(Site).where(Site.name == "Hospital Norte"))
    assert new.patient_results is False  # off by default
    assert actions("site.created")[0].detail["patient_results"] is False
    path = f"/clinic/admin/sites/{site.id}"
    form = admin.client.get(path).text
    assert 'id="patient_results"' in form and 'aria-describedby="patient_results-hint"' in form
    assert "checked" not in form.split('id="patient_results"')[0].rsplit("<input", 1)[1]

    same = site_form(name=site.name, timezone=site.timezone, default_language="es")
    assert post(admin, path, {**same, "patient_results": "y"}).status_code == 303
    db.session.refresh(site)
    assert site.patient_results is True
    assert actions("site.changed")[-1].detail["changed"]["patient_results"] == [False, True]
    assert 'checked id="patient_results"' in admin.client.get(path).text
    assert "<td>yes</td>" in admin.client.get("/clinic/admin/sites").text

    assert post(admin, path, same).status_code == 303  # an unticked box is not sent: off
    db.session.refresh(site)
    assert site.patient_results is False
    changes = [event.detail["changed"] for event in actions("site.changed")]
    assert changes[-1] == {"patient_results": [True, False]}


def test_an_admin_of_site_a_cannot_see_or_edit_site_b(admin, other_site):
    assert admin.client.get(f"/clinic/admin/sites/{other_site.id}").status_code == 404
    response = admin.client.post(
        f"/clinic/admin/sites/{other_site.id}",
        data={**site_form(name="Taken over"), "csrf_token": admin.csrf()},
    )
    assert response.status_code == 404
    db.session.refresh(other_site)
    assert other_site.name == "Ankara Proctology"
    assert "Ankara Proctology" not in admin.client.get("/clinic/admin/sites").text


def test_an_admin_cannot_add_staff_to_another_admins_site(admin, other_site):
    response = post(
        admin,
        "/clinic/admin/staff/new",
        {"email": "x@clinic.example", "role": "clinician", "site_ids": [other_site.id]},
    )
    assert response.status_code == 422  # not one of the choices
    assert db.session.scalar(select(User).where(User.email == "x@clinic.example")) is None


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_other_roles_cannot_reach_the_administration(sign_in, site, make_user, role):
    staff = sign_in(role, [site])
    colleague = make_user("clinician", [site])
    for path in (
        "/clinic/admin/sites",
        "/clinic/admin/sites/new",
        f"/clinic/admin/sites/{site.id}",
        "/clinic/admin/staff/new",
    ):
        assert staff.client.get(path).status_code == 403, path
    csrf = staff.csrf()
    for path in (
        "/clinic/admin/sites/new",
        "/clinic/admin/staff/new",
        f"/clinic/admin/staff/{colleague.id}/password-link",
    ):
        response = staff.client.post(path, data={**site_form(), "csrf_token": csrf})
        assert response.status_code == 403, path
    assert db.session.scalar(select(func.count(PasswordLink.id))) == 0


def test_a_new_account_is_activated_by_its_one_time_link(admin, site, app):
    response = add_clinician(admin, site)
    assert response.status_code == 200
    url, token = LINK.search(response.text).groups()
    assert "only time the link is shown" in response.text
    user = db.session.scalar(select(User).where(User.email == "new.clinician@clinic.example"))
    assert user.site_ids == [site.id] and user.totp_required
    stored = db.session.scalar(select(PasswordLink).where(PasswordLink.user_id == user.id))
    assert stored.token_hash == password_links.token_hash(token) and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=72)
    assert not any(token in str(event.detail) for event in db.session.scalars(select(AuditEvent)))
    assert actions("user.created")[0].detail["role"] == "clinician"
    assert actions("password_link.issued")[0].user_id == admin.user.id
    # Until the link is used, nobody can sign in to the account.
    newcomer = app.test_client()
    assert StaffActions(newcomer).login(user.email, "").status_code == 200

    path = url.split("://", 1)[1].split("/", 1)[1]
    page = newcomer.get("/" + path)
    assert page.status_code == 200 and user.email in page.text
    done = newcomer.post(
        "/" + path,
        data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert done.status_code == 303
    assert actions("password.set_by_link")[0].detail["purpose"] == "activate"
    # Used once: the link no longer opens.
    assert newcomer.get("/" + path).status_code == 404
    signed_in = StaffActions(newcomer).login(user.email, NEW_PASSWORD)
    assert signed_in.status_code == 302
    # A second factor is required: the first page is setting one up, with a QR code.
    first = newcomer.get("/clinic/")
    assert first.status_code == 302 and first.location.endswith("/account/two-factor")
    setup = newcomer.get("/account/two-factor")
    assert '<svg role="img"' in setup.text and "QR code of the key" in setup.text
    key = re.search(r'<code class="totp-key">([A-Z2-7 ]+)</code>', setup.text).group(1)
    code = totp.code_for(key.replace(" ", ""), utcnow())
    enrolled = newcomer.post(
        "/account/two-factor", data={"code": code, "csrf_token": csrf_from(setup.text)}
    )
    assert enrolled.status_code == 303
    assert newcomer.get("/clinic/").status_code == 200


def test_a_link_expires_and_a_new_one_replaces_the_old(admin, site, app):
    url_one = LINK.search(add_clinician(admin, site).text).group(1)
    user = db.session.scalar(select(User).where(User.email == "new.clinician@clinic.example"))
    again = post(admin, f"/clinic/admin/staff/{user.id}/password-link", {})
    assert again.status_code == 200
    token_two = LINK.search(again.text).group(2)
    client = app.test_client()
    assert client.get("/account/set-password/" + url_one.rsplit("/", 1)[1]).status_code == 404
    assert client.get("/account/set-password/" + token_two).status_code == 200
    link = password_links.find(db.session, token_two)
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    gone = client.get("/account/set-password/" + token_two)
    assert gone.status_code == 404 and "ask your administrator" in gone.text.lower()


@pytest.mark.parametrize("token", ["x" * 43, "short", "A" * 200])
def test_a_made_up_link_is_not_found(client, token):
    assert client.get(f"/account/set-password/{token}").status_code == 404


def test_a_reset_link_keeps_the_old_password_until_used_and_then_ends_sessions(
    admin, sign_in, site, app
):
    colleague = sign_in("clinician", [site])
    response = post(admin, f"/clinic/admin/staff/{colleague.user.id}/password-link", {})
    token = LINK.search(response.text).group(2)
    assert "current password works until then" in response.text
    assert colleague.client.get("/clinic/").status_code == 200
    client = app.test_client()
    page = client.get(f"/account/set-password/{token}")
    client.post(
        f"/account/set-password/{token}",
        data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert colleague.client.get("/clinic/").status_code == 302  # signed out
    assert actions("password.set_by_link")[0].detail == {"purpose": "reset", "sessions_ended": 1}


def test_a_short_password_is_refused_and_the_link_still_works(admin, site, app):
    token = LINK.search(add_clinician(admin, site).text).group(2)
    client = app.test_client()
    page = client.get(f"/account/set-password/{token}")
    refused = client.post(
        f"/account/set-password/{token}",
        data={"new": "short", "confirm": "short", "csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 422 and "at least 12 characters" in refused.text
    assert password_links.find(db.session, token) is not None


def test_an_admin_cannot_issue_a_link_for_another_sites_account(admin, other_site, make_user):
    stranger = make_user("clinician", [other_site])
    assert post(admin, f"/clinic/admin/staff/{stranger.id}/password-link", {}).status_code == 404
    assert db.session.scalar(select(func.count(PasswordLink.id))) == 0


def test_the_qr_codes_title_is_escaped():
    svg = totp.qr_code_svg("otpauth://totp/x?secret=JBSWY3DP", "<script>alert(1)</script>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
