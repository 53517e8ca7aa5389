"""An admin edits a member of staff in the web: role and sites (only the admin's own sites are
offered or accepted), disable and enable. Every change is audited, a refused form says why on
its field, and nobody can edit their own account here or leave a site without an administrator."""

import threading

import pytest
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from survey.domain.staff_setup import change_staff, create_site, sites_left_without_admin
from survey.extensions import db
from survey.models import AuditEvent, Role, Site, User


@pytest.fixture
def third_site(app):
    made = create_site(db.session, "Sevilla Coloproctología", "Europe/Madrid", "es")
    db.session.commit()
    return made


@pytest.fixture
def admin(sign_in, site, third_site):
    return sign_in("admin", [site, third_site], email="head@clinic.example")


def edit(staff, user: User, csrf: bool = True, **data):
    path = f"/clinic/admin/staff/{user.id}"
    if csrf:
        data["csrf_token"] = staff.csrf(path)
    return staff.client.post(path, data=data)


def changes_of(user: User) -> list[dict]:
    return [
        event.detail["changed"]
        for event in db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.changed", AuditEvent.subject_id == user.id
            )
        )
    ]


def test_an_admin_changes_a_colleagues_role_and_sites(admin, site, third_site, make_user):
    colleague = make_user("coordinator", [site], email="maria@clinic.example")
    page = admin.client.get(f"/clinic/admin/staff/{colleague.id}")
    assert page.status_code == 200
    assert "Edit maria@clinic.example" in page.text
    assert third_site.name in page.text  # offered, not yet ticked
    response = edit(admin, colleague, role="clinician", site_ids=[site.id, third_site.id])
    assert response.status_code == 303
    assert (
        "The changes to maria@clinic.example are saved." in admin.client.get(response.location).text
    )
    db.session.refresh(colleague)
    assert colleague.role == Role.CLINICIAN
    assert sorted(colleague.site_ids) == sorted([site.id, third_site.id])
    assert changes_of(colleague) == [
        {
            "role": ["coordinator", "clinician"],
            "sites": [[site.name], sorted([site.name, third_site.name])],
        }
    ]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.changed"))
    assert event.user_id == admin.user.id


def test_saving_without_a_change_records_nothing(admin, site, make_user):
    colleague = make_user("clinician", [site])
    response = edit(admin, colleague, role="clinician", site_ids=[site.id])
    assert response.status_code == 303
    assert "Nothing was changed." in admin.client.get(response.location).text
    assert changes_of(colleague) == []


def test_only_the_admins_own_sites_are_offered_or_accepted(admin, site, other_site, make_user):
    colleague = make_user("clinician", [site])
    page = admin.client.get(f"/clinic/admin/staff/{colleague.id}")
    assert page.status_code == 200 and site.name in page.text
    assert other_site.name not in page.text
    response = edit(admin, colleague, role="clinician", site_ids=[site.id, other_site.id])
    assert response.status_code == 422
    assert 'class="error-text" id="site_ids-error"' in response.text
    db.session.refresh(colleague)
    assert colleague.site_ids == [site.id]


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"role": "clinician"}, "site_ids", "Choose at least one site."),
        ({"role": "superuser", "site_ids": "1"}, "role", "Not a valid choice"),
    ],
)
def test_a_refused_form_says_why_on_its_field_and_changes_nothing(
    admin, site, make_user, data, field, message
):
    colleague = make_user("coordinator", [site])
    data = {**data, "site_ids": [site.id]} if "site_ids" in data else data
    response = edit(admin, colleague, **data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert 'class="error-summary"' in response.text
    db.session.refresh(colleague)
    assert colleague.role == Role.COORDINATOR and colleague.site_ids == [site.id]
    assert changes_of(colleague) == []


def test_a_change_without_the_csrf_token_is_refused(admin, site, make_user):
    colleague = make_user("coordinator", [site])
    response = edit(admin, colleague, csrf=False, role="admin", site_ids=[site.id])
    assert response.status_code == 400
    db.session.refresh(colleague)
    assert colleague.role == Role.COORDINATOR


def test_an_admin_cannot_edit_their_own_account_here(admin, site):
    assert admin.client.get(f"/clinic/admin/staff/{admin.user.id}").status_code == 403
    staff_page = admin.client.get("/clinic/admin/staff")
    assert staff_page.status_code == 200 and "Your account" in staff_page.text
    assert f'href="/clinic/admin/staff/{admin.user.id}"' not in staff_page.text
    response = admin.client.post(
        f"/clinic/admin/staff/{admin.user.id}",
        data={"role": "clinician", "site_ids": [site.id], "csrf_token": admin.csrf()},
    )
    assert response.status_code == 403
    db.session.refresh(admin.user)
    assert admin.user.role == Role.ADMIN and admin.user.site_ids


def test_accounts_outside_the_admins_reach(admin, sign_in, site, other_site, make_user):
    stranger = make_user("clinician", [other_site])
    shared = make_user("clinician", [site, other_site], email="shared@clinic.example")
    assert admin.client.get(f"/clinic/admin/staff/{stranger.id}").status_code == 404
    assert admin.client.get(f"/clinic/admin/staff/{shared.id}").status_code == 403
    # The staff page names only the admin's own sites of a shared account.
    page = admin.client.get("/clinic/admin/staff")
    row = page.text.split('data-user="shared@clinic.example"')[1].split("</tr>")[0]
    assert site.name in row and other_site.name not in row and "and 1 other site" in row
    clinician = sign_in("clinician", [site])
    assert clinician.client.get(f"/clinic/admin/staff/{shared.id}").status_code == 403


def test_disabling_and_enabling_from_the_edit_page_comes_back_to_it(admin, sign_in, site):
    colleague = sign_in("coordinator", [site])
    path = f"/clinic/admin/staff/{colleague.user.id}"
    response = admin.client.post(
        f"{path}/disable", data={"csrf_token": admin.csrf(path), "back": "edit"}
    )
    assert response.status_code == 302 and response.location.endswith(path)
    page = admin.client.get(response.location).text
    assert "was disabled and signed out" in page and "This account is disabled" in page
    assert colleague.client.get("/clinic/follow-up/").status_code == 302  # signed out
    admin.client.post(f"{path}/enable", data={"csrf_token": admin.csrf(path), "back": "edit"})
    db.session.refresh(colleague.user)
    assert colleague.user.active
    actions = list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == colleague.user.id, AuditEvent.user_id == admin.user.id)
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["user.disabled", "user.enabled"]


def test_no_change_leaves_a_site_without_an_active_administrator(site, other_site, make_user):
    only = make_user("admin", [site, other_site])
    at_other = make_user("admin", [other_site])
    assert sites_left_without_admin(db.session, only, Role.CLINICIAN, [site], True) == [site]
    assert sites_left_without_admin(db.session, only, Role.ADMIN, [other_site], True) == [site]
    assert sites_left_without_admin(db.session, only, Role.ADMIN, [site], False) == [site]
    assert sites_left_without_admin(db.session, only, Role.ADMIN, [site], True) == []
    # A disabled administrator does not count; an active one does.
    at_other.active = False
    db.session.commit()
    lonely = sites_left_without_admin(db.session, only, Role.ADMIN, [], False)
    assert [s.name for s in lonely] == sorted([site.name, other_site.name])
    make_user("admin", [site])
    assert sites_left_without_admin(db.session, only, Role.COORDINATOR, [], True) == [other_site]
    # An account that is not an active administrator has nothing to lose.
    coordinator = make_user("coordinator", [site])
    assert sites_left_without_admin(db.session, coordinator, Role.CLINICIAN, [], False) == []
    assert db.session.scalar(select(Site).where(Site.id == site.id)) is not None


@pytest.mark.postgres_only
def test_two_admins_demoting_each_other_at_once_leave_one_admin(needs_postgresql, site, make_user):
    """The check locks the site's row: the second change counts admins after the first has
    committed, so it is refused rather than leaving the site with none."""
    first, second = make_user("admin", [site]), make_user("admin", [site])
    Session = sessionmaker(bind=db.engine, expire_on_commit=False)  # noqa: N806
    one, two = Session(), Session()
    found = {}
    try:
        demoted = one.get(User, second.id)
        assert sites_left_without_admin(one, demoted, Role.CLINICIAN, [], True) == []
        # `one` holds the lock until it commits; `two` checks meanwhile, from another thread.
        app = current_app._get_current_object()

        def meanwhile():
            with app.app_context():
                other = two.get(User, first.id)
                found["lonely"] = sites_left_without_admin(two, other, Role.CLINICIAN, [], True)

        thread = threading.Thread(target=meanwhile)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the lock
        change_staff(demoted, Role.CLINICIAN, list(demoted.sites))
        one.commit()
        thread.join(timeout=10)
        assert [s.id for s in found["lonely"]] == [site.id]
    finally:
        two.rollback()
        one.close()
        two.close()


def test_each_row_button_of_the_staff_page_names_whose_account_it_acts_on(admin, site, make_user):
    emails = ["ana@clinic.example", "bora@clinic.example"]
    for email in emails:
        make_user("clinician", [site], email=email)
    page = admin.client.get("/clinic/admin/staff")
    assert page.status_code == 200
    for email in emails:
        row = page.text.split(f'data-user="{email}"')[1].split("</tr>")[0]
        assert 'href="/clinic/admin/staff/' in row and f"Edit {email}" in row
        assert f'Disable<span class="visually-hidden"> ({email})</span>' in row
        assert f'Link to set the password<span class="visually-hidden"> ({email})</span>' in row
