"""Small things a coordinator meets every day: where sign-in lands, every enrolment problem at
once on its field, buttons that say which timepoint they act on, dates in their language."""

import re
from datetime import timedelta

from babel.dates import format_date

from survey.extensions import db
from survey.models import utcnow
from survey.outreach.patient_schedule import enrol
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.conftest import csrf_from
from tests.fixtures.outreach import RULES


def test_a_coordinator_lands_on_follow_up_and_a_clinician_on_the_clinic_list(
    client, staff, site, make_user
):
    coordinator = make_user("coordinator", [site])
    assert staff.login(coordinator.email).headers["Location"].endswith("/clinic/follow-up/")
    staff.logout()
    clinician = make_user("clinician", [site])
    assert staff.login(clinician.email).headers["Location"].endswith("/clinic/")


def test_the_enrolment_form_reports_every_problem_at_once_on_its_field(
    client, staff, site, make_user
):
    staff.login(make_user("coordinator", [site]).email)
    page = client.get("/clinic/follow-up/enrol")
    schedule = re.search(
        r'<option selected value="(\d+)"|<option value="(\d+)" selected', page.text
    )
    response = client.post(
        "/clinic/follow-up/enrol",
        data={
            "csrf_token": csrf_from(page.text),
            "site_id": site.id,
            "reference": "",
            "phone": "+34 912 345 678",  # a landline
            "language": "es",
            "timezone": "Mars/Olympus",
            "index_date": "",
            "schedule_id": next(g for g in schedule.groups() if g),
        },
    )
    assert response.status_code == 200
    html = response.text
    for field in ("reference", "phone", "timezone", "index_date"):
        assert f'id="{field}-error"' in html, field
        assert re.search(
            rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', html
        ), field
    assert "Mars/Olympus" in html and "is not a known time zone" in html
    assert "An index date is needed to follow a schedule." in html


def test_each_message_button_names_its_timepoint_and_dates_follow_the_language(
    client, staff, site, make_user
):
    now = utcnow()
    patient, _ = enrol(
        db.session,
        site,
        "P-300",
        "+34612345678",
        "es",
        None,
        (now + timedelta(days=7)).date(),
        ensure_default_schedule(db.session),
        now,
        RULES,
    )
    db.session.commit()
    staff.login(make_user("coordinator", [site]).email)
    page = client.get(f"/clinic/follow-up/patients/{patient.id}", headers={"Accept-Language": "es"})
    labels = re.findall(r'Cancelar<span class="visually-hidden"> \(([^)]+)\)</span>', page.text)
    assert labels, "no Cancel button found"
    assert len(set(labels)) == len(labels)  # every one says which message it cancels
    assert any("3 months" in label or "3 meses" in label for label in labels)
    assert f"<dd>{format_date(patient.index_date, 'medium', locale='es')}</dd>" in page.text
