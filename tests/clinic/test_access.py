"""Who may use which clinic and admin page: every staff route, every kind of visitor."""

import pytest
from flask import current_app

from survey.domain.invitations import create_invitation, mint_link
from survey.extensions import db
from tests.conftest import csrf_from

# Every clinic and admin route (static files aside), with who may use it.
EVERYONE = ("admin", "clinician", "coordinator")
EXPORTERS = ("admin", "clinician")
ROUTES = {
    ("GET", "/clinic/"): EVERYONE,
    ("GET", "/clinic/patients/{patient}"): EVERYONE,
    ("GET", "/clinic/patients/{patient}/summary"): EVERYONE,
    ("GET", "/clinic/exports"): EXPORTERS,
    ("POST", "/clinic/exports/long"): EXPORTERS,
    ("POST", "/clinic/exports/wide"): EXPORTERS,
    ("POST", "/clinic/exports/fhir"): EXPORTERS,
    ("GET", "/clinic/exports/dictionary"): EXPORTERS,
    ("GET", "/clinic/admin/"): ("admin",),
    ("GET", "/clinic/admin/audit"): ("admin",),
    ("GET", "/clinic/admin/staff"): ("admin",),
    ("GET", "/clinic/worklist"): EXPORTERS,
    ("GET", "/clinic/admin/triage"): ("admin",),
    ("GET", "/clinic/admin/sites"): ("admin",),
    ("GET", "/clinic/admin/sites/new"): ("admin",),
    ("GET", "/clinic/admin/staff/new"): ("admin",),
    ("GET", "/clinic/analytics"): EXPORTERS,
    ("GET", "/clinic/analytics.csv"): EXPORTERS,
    # Service-wide facts about files (catalogs, wording statuses), no patient data.
    ("GET", "/clinic/admin/languages"): EVERYONE,
}
RULES = {
    "/clinic/": ("GET", "/clinic/"),
    "/clinic/patients/<int:patient_id>": ("GET", "/clinic/patients/{patient}"),
    "/clinic/patients/<int:patient_id>/summary": ("GET", "/clinic/patients/{patient}/summary"),
    "/clinic/exports": ("GET", "/clinic/exports"),
    "/clinic/exports/<kind>": ("POST", "/clinic/exports/long"),
    "/clinic/exports/dictionary": ("GET", "/clinic/exports/dictionary"),
    "/clinic/admin/": ("GET", "/clinic/admin/"),
    "/clinic/admin/audit": ("GET", "/clinic/admin/audit"),
    "/clinic/admin/staff": ("GET", "/clinic/admin/staff"),
    "/clinic/worklist": ("GET", "/clinic/worklist"),
    # Items and their steps, by role and site: tests/triage/test_access.py.
    "/clinic/worklist/<int:item_id>": ("GET", "/clinic/worklist"),
    "/clinic/worklist/<int:item_id>/<any(take, outcome, close):step>": ("GET", "/clinic/worklist"),
    # Saving a site's rules, by role and site: tests/triage/test_settings_page.py.
    "/clinic/admin/triage": ("GET", "/clinic/admin/triage"),
    "/clinic/admin/languages": ("GET", "/clinic/admin/languages"),
    # Its roles and sites are checked in tests/security/test_staff_admin.py.
    "/clinic/admin/staff/<int:user_id>/<any('require-2fa', 'stop-requiring-2fa', 'reset-2fa', "
    "'disable', 'enable', 'end-sessions'):action>": ("GET", "/clinic/admin/staff"),
    "/clinic/admin/sites": ("GET", "/clinic/admin/sites"),
    "/clinic/admin/sites/new": ("GET", "/clinic/admin/sites/new"),
    # Editing a site and issuing a link, by role and site: tests/security/test_site_admin.py.
    "/clinic/admin/sites/<int:site_id>": ("GET", "/clinic/admin/sites"),
    "/clinic/admin/staff/new": ("GET", "/clinic/admin/staff/new"),
    "/clinic/admin/staff/<int:user_id>/password-link": ("GET", "/clinic/admin/staff"),
    # Editing an account, by role, site and whose: tests/security/test_staff_edit.py.
    "/clinic/admin/staff/<int:user_id>": ("GET", "/clinic/admin/staff"),
    "/clinic/analytics": ("GET", "/clinic/analytics"),
    "/clinic/analytics.csv": ("GET", "/clinic/analytics.csv"),
}


def test_every_clinic_and_admin_route_is_in_this_table(app):
    rules = {
        rule.rule
        for rule in current_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("clinic", "admin")
        and not rule.endpoint.endswith("static")
    }
    assert rules == set(RULES)


def visit(client, method, path, patient):
    path = path.format(patient=patient.id)
    if method == "GET":
        return client.get(path)
    token = csrf_from(client.get("/clinic/").text)
    return client.post(path, data={"csrf_token": token})


@pytest.mark.parametrize("method, path", list(ROUTES))
def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, published_case, method, path):
    response = (
        client.get(path.format(patient=published_case.id))
        if method == "GET"
        else client.post(path.format(patient=published_case.id))
    )
    if method == "POST":
        assert response.status_code == 400  # no CSRF token: refused before anything else
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize("method, path", list(ROUTES))
def test_each_role_reaches_only_its_pages(
    client, staff, site, make_user, published_case, role, method, path
):
    user = make_user(role, [site])
    staff.login(user.email)
    response = visit(client, method, path, published_case)
    if role in ROUTES[(method, path)]:
        assert response.status_code == 200, response.text[:500]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize(
    "path", ["/clinic/patients/{patient}", "/clinic/patients/{patient}/summary"]
)
def test_another_sites_patient_is_not_found(
    client, staff, site, other_site, make_user, make_patient, role, path
):
    elsewhere = make_patient(
        other_site, reference="ELSEWHERE", language="tr", phone="+905321234567"
    )
    user = make_user(role, [site])
    staff.login(user.email)
    assert client.get(path.format(patient=elsewhere.id)).status_code == 404
    assert client.get(path.format(patient=elsewhere.id + 1000)).status_code == 404


def test_another_sites_patients_are_not_listed_or_exported(
    client, staff, site, other_site, make_user, make_patient, published_case
):
    from tests.fixtures.clinic import add_history

    elsewhere = make_patient(
        other_site, reference="ELSEWHERE-REF", language="tr", phone="+905321234567"
    )
    add_history(elsewhere, [("baseline", 0, 40, (0, 0, 0, 0, 0))])
    user = make_user("clinician", [site])
    staff.login(user.email)
    assert "ELSEWHERE-REF" not in client.get("/clinic/").text
    token = csrf_from(client.get("/clinic/exports").text)
    for kind in ("long", "wide", "fhir"):
        export = client.post(f"/clinic/exports/{kind}", data={"csrf_token": token})
        assert "CASE-51" in export.text and "ELSEWHERE-REF" not in export.text
    # Asking for the other site by id is refused, not quietly widened.
    refused = client.post(
        "/clinic/exports/long", data={"csrf_token": token, "site": str(other_site.id)}
    )
    assert refused.status_code == 400


def test_a_patients_private_link_does_not_reach_staff_pages(
    client, site, make_patient, published_case
):
    patient = make_patient(site, reference="LINK")
    invitation = create_invitation(db.session, patient, "baseline")
    token = mint_link(db.session, invitation)
    db.session.commit()
    opened = client.get(f"/s/{token}")
    assert opened.status_code == 303  # the patient now has a survey session
    for method, path in ROUTES:
        if method == "GET":
            response = client.get(path.format(patient=published_case.id))
            assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_audit_log_cannot_be_changed_through_the_web(client, staff, site, make_user):
    admin = make_user("admin", [site])
    staff.login(admin.email)
    token = csrf_from(client.get("/clinic/admin/audit").text)
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/clinic/admin/audit", data={"csrf_token": token})
        assert response.status_code == 405


@pytest.mark.parametrize(
    "setting, value",
    [
        ("CCIS_MEANINGFUL_CHANGE", 0),
        ("CCIS_MEANINGFUL_CHANGE", "3"),
        ("OVERDUE_GRACE_DAYS", -1),
        ("CLINIC_PAGE_SIZE", True),
        ("FHIR_BASE_URL", "survey.invalid"),
    ],
)
def test_a_clinic_setting_that_would_break_pages_stops_the_start(schema, setting, value):
    from survey.config import ConfigurationError
    from tests.conftest import make_app

    with pytest.raises(ConfigurationError, match=setting):
        make_app(schema, **{setting: value})
