"""Posts that the browser marks as coming from another site are refused before any view runs
(Sec-Fetch-Site), whatever token they carry; the service's own pages and non-browser clients
are unaffected."""

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import AuditEvent, DraftAnswer
from tests.conftest import PASSWORD, csrf_from
from tests.fixtures.patients import QOLAF_51


def sign_in(client, email: str, fetch_site: str | None):
    token = csrf_from(client.get("/login").text)
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    return client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, headers=headers
    )


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site", "Cross-Site"])
def test_a_sign_in_posted_from_another_site_is_refused(client, site, make_user, fetch_site):
    user = make_user("clinician", [site])
    response = sign_in(client, user.email, fetch_site)
    assert response.status_code == 403
    assert client.get("/clinic/").status_code == 302  # still signed out
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize("fetch_site", ["same-origin", "none", None])
def test_the_services_own_forms_and_clients_without_the_header_still_work(
    client, site, make_user, fetch_site
):
    user = make_user("clinician", [site])
    assert sign_in(client, user.email, fetch_site).status_code == 302


def test_a_patients_answers_posted_from_another_site_are_not_saved(patient, invite, enrolled):
    patient.opens(invite(enrolled))
    token = patient.csrf_token()
    response = patient.client.post(
        "/survey/1",
        data={"csrf_token": token, "action": "next", **{k: str(v) for k, v in QOLAF_51.items()}},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(DraftAnswer)) == 0


def test_a_link_opened_from_an_sms_app_is_a_cross_site_get_and_opens(patient, invite, enrolled):
    response = patient.opens(invite(enrolled), headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code in (302, 303)
