"""Dates on staff pages are written the way the reader's language writes them (Flask-Babel),
on the patient's clock where a patient's time is meant; no page shows an ISO timestamp."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from survey.date_text import day_text, local_datetime, local_day, utc_datetime
from survey.extensions import db
from survey.models import utcnow
from survey.outreach.patient_schedule import enrol
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.fixtures.outreach import RULES

OPENS = datetime(2027, 3, 16, 8, tzinfo=UTC)  # 09:00 CET in Madrid
ISO = re.compile(r"\b20\d\d-\d\d-\d\d\b")


@pytest.mark.parametrize(
    "language, moment, day",
    [
        ("en", "Mar 16, 2027, 9:00\u202fAM CET", "Mar 16, 2027"),
        ("es", "16 mar 2027, 9:00 CET", "16 mar 2027"),
        ("tr", "16 Mar 2027 09:00 CET", "16 Mar 2027"),
    ],
)
def test_dates_in_the_readers_language_on_the_patients_clock(app, language, moment, day):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert local_datetime(OPENS, "Europe/Madrid") == moment
        assert local_day(OPENS, "Europe/Madrid") == day
        assert day_text(date(2027, 3, 16)) == day
        assert utc_datetime(OPENS).startswith(day) and "CET" not in utc_datetime(OPENS)
        assert local_datetime(None, "UTC") == "" and day_text(None) == ""


@pytest.fixture
def followed(site):
    """A patient on the default schedule, enrolled today: invitations and texts planned."""
    now = utcnow()
    patient, _ = enrol(
        db.session,
        site,
        "DATES-1",
        "+34612345678",
        "es",
        "Europe/Madrid",
        (now + timedelta(days=7)).date(),
        ensure_default_schedule(db.session),
        now,
        RULES,
    )
    db.session.commit()
    return patient


@pytest.mark.parametrize("language", ["es", "tr"])
def test_coordinator_and_clinician_pages_write_dates_in_the_readers_language(
    client, staff, site, make_user, followed, language
):
    staff.login(make_user("admin", [site]).email)
    baseline = followed.invitations[0]
    with client.application.test_request_context(headers={"Accept-Language": language}):
        closes = local_datetime(baseline.expires_at, followed.timezone)
        index_day = day_text(followed.index_date)
    pages = (
        f"/clinic/follow-up/patients/{followed.id}",
        f"/clinic/patients/{followed.id}",
        f"/clinic/follow-up/?q={followed.reference}",
    )
    seen = []
    for path in pages:
        page = client.get(path, headers={"Accept-Language": language})
        assert page.status_code == 200, path
        assert f'lang="{language}"' in page.text
        assert closes in page.text, path
        assert not ISO.findall(re.sub(r'value="[^"]*"', "", page.text)), path
        seen.append(path)
    assert len(seen) == 3
    assert index_day in client.get(pages[1], headers={"Accept-Language": language}).text
