"""The audit log an admin reads: who viewed, exported and changed what, newest first."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.admin.audit_log import AuditFilters, audit_page, parse_filters
from survey.domain import audit_trail
from survey.extensions import db
from survey.models import AuditEvent, AuditTrailIsInsertOnly, utcnow
from tests.conftest import csrf_from


@pytest.fixture
def admin(site, make_user):
    return make_user("admin", [site], email="admin@clinic.example")


def test_an_admin_reads_who_viewed_and_exported_what(
    client, staff, admin, clinician, published_case
):
    staff.login(clinician.email)
    client.get(f"/clinic/patients/{published_case.id}")
    token = csrf_from(client.get("/clinic/exports").text)
    client.post("/clinic/exports/wide", data={"csrf_token": token})
    staff.logout()
    staff.login(admin.email)
    page = client.get("/clinic/admin/audit")
    assert page.status_code == 200
    html = page.text
    assert html.index('data-action="export.wide"') < html.index('data-action="patient.view"')
    assert clinician.email in html
    assert "Patient CASE-51" in html
    assert "&#34;rows&#34;: 4" in html or '"rows": 4' in html  # four timepoints in the wide export


def test_filters_by_user_action_patient_and_day(
    app, admin, clinician, published_case, missed_timepoint
):
    with app.test_request_context():
        for patient in (published_case, missed_timepoint):
            audit_trail.record(db.session, "patient.view", user=clinician, subject=patient)
        audit_trail.record(db.session, "export.long", user=admin, detail={"rows": 3})
        db.session.commit()

    def actions(**filters):
        return [
            (e.action, e.user_id, e.subject_id)
            for e in audit_page(db.session, admin, AuditFilters(**filters), 50).events
        ]

    assert actions(user=clinician.email.upper()) == [
        ("patient.view", clinician.id, missed_timepoint.id),
        ("patient.view", clinician.id, published_case.id),
    ]
    assert actions(action="export") == [("export.long", admin.id, None)]
    assert actions(action="export.long") == [("export.long", admin.id, None)]
    assert actions(action="expo") == []  # a prefix means whole words before a dot
    assert actions(patient="CASE-51") == [("patient.view", clinician.id, published_case.id)]
    assert actions(day=utcnow().date()) and actions(day=utcnow().date() - timedelta(days=1)) == []


def test_pages_go_back_in_time_by_event_id(app, admin):
    with app.test_request_context():
        for number in range(5):
            audit_trail.record(db.session, "patient.view", user=admin, detail={"n": number})
        db.session.commit()
    first = audit_page(db.session, admin, AuditFilters(), 2)
    assert [e.detail["n"] for e in first.events] == [4, 3]
    second = audit_page(db.session, admin, AuditFilters(before=first.older), 2)
    assert [e.detail["n"] for e in second.events] == [2, 1]
    last = audit_page(db.session, admin, AuditFilters(before=second.older), 2)
    assert [e.detail["n"] for e in last.events] == [0] and last.older is None


def test_an_admin_sees_only_their_sites_events(app, admin, other_site, make_user, make_patient):
    stranger = make_user("clinician", [other_site])
    colleague = make_user("coordinator", [admin.sites[0]])
    elsewhere = make_patient(other_site, reference="ANKARA-1", language="tr", phone="+905321234567")
    with app.test_request_context():
        audit_trail.record(db.session, "patient.view", user=stranger, subject=elsewhere)
        audit_trail.record(db.session, "login", user=stranger, subject=stranger)
        audit_trail.record(db.session, "account.disabled", subject=stranger, detail={"by": "cli"})
        audit_trail.record(db.session, "login.failed", subject=stranger, detail={"email": "x"})
        audit_trail.record(db.session, "account.disabled", subject=colleague, detail={"by": "cli"})
        audit_trail.record(db.session, "login.failed", detail={"email": "who@example.org"})
        db.session.commit()
    actions = [e.action for e in audit_page(db.session, admin, AuditFilters(), 50).events]
    # Only what concerns the admin's own site; the unknown address is another site's business
    # as much as theirs, so it is for an admin of every site.
    assert actions == ["account.disabled"]


def test_an_admin_of_every_site_also_sees_what_concerns_nobody(app, admin, other_site, make_user):
    everywhere = make_user("admin", [admin.sites[0], other_site], email="head@clinic.example")
    with app.test_request_context():
        audit_trail.record(db.session, "login.failed", detail={"email": "who@example.org"})
        db.session.commit()
    assert [e.action for e in audit_page(db.session, everywhere, AuditFilters(), 50).events] == [
        "login.failed"
    ]
    assert audit_page(db.session, admin, AuditFilters(), 50).events == []


def test_a_failed_sign_in_to_an_account_reaches_its_sites_admins(app, staff, admin, make_user):
    colleague = make_user("coordinator", [admin.sites[0]], email="coord@clinic.example")
    staff.login(colleague.email, "not the password at all")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login.failed"))
    assert event.subject_id == colleague.id
    assert event in audit_page(db.session, admin, AuditFilters(), 50).events


def test_the_trail_is_insert_only(app, admin):
    with app.test_request_context():
        audit_trail.record(db.session, "patient.view", user=admin)
        db.session.commit()
    event = db.session.scalar(select(AuditEvent))
    event.action = "nothing.happened"
    with pytest.raises(AuditTrailIsInsertOnly):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    "args, ignored",
    [
        ({"day": "yesterday"}, ["day"]),
        ({"before": "-1"}, ["before"]),
        ({"user": "a\x00b"}, ["user"]),
        ({"patient": "x" * 300}, ["patient"]),
        ({"day": "2026-11-01", "before": "12"}, []),
    ],
)
def test_bad_filters_are_ignored(args, ignored):
    assert parse_filters(args).ignored == ignored


def test_the_audit_page_survives_odd_filters(client, staff, admin):
    staff.login(admin.email)
    for query in ("day=2026-02-30", "before=abc", "action=%25", "user=%00", "patient=' OR 1=1 --"):
        assert client.get(f"/clinic/admin/audit?{query}").status_code == 200
