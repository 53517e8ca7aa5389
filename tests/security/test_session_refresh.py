"""The session cookie slides the idle limit once a minute, not on every page
(survey/security/session_cookie.py): a session still ends between limit - interval and limit
after the browser's last page, never later, and only the browser's user slides it."""

from datetime import timedelta

import pytest

from survey.security.session_cookie import refresh_interval

INTERVAL = 60


@pytest.fixture
def idle_limit(app) -> int:
    return int(app.config["PERMANENT_SESSION_LIFETIME"].total_seconds())


def test_an_unchanged_session_is_re_sent_only_once_its_stamp_is_a_minute_old(
    patient, enrolled, invite, clock
):
    opened = patient.opens(invite(enrolled))
    assert "Set-Cookie" in opened.headers  # the session changed: always sent
    patient.client.get("/survey/1")  # puts the form's CSRF token in the session
    clock.advance(INTERVAL - 2)
    page = patient.client.get("/survey/1")
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    assert page.headers["Vary"] == "Cookie"
    clock.advance(2)
    assert "Set-Cookie" in patient.client.get("/survey/1").headers
    assert "Set-Cookie" not in patient.client.get("/survey/2").headers


@pytest.mark.parametrize("gaps", [(), (20, 20, 19), (59, 1), (61, 30, 29), (45, 45, 45, 45)])
def test_a_session_never_outlives_the_idle_limit_after_its_last_page(
    patient, enrolled, invite, clock, idle_limit, gaps
):
    patient.opens(invite(enrolled))
    assert patient.client.get("/survey/1").status_code == 200
    for gap in gaps:
        clock.advance(gap)
        assert patient.client.get("/survey/1").status_code == 200
    # Idle from here. Still signed in a little before limit - interval (looked at by a
    # request that does not slide it)...
    clock.advance(idle_limit - INTERVAL - 1)
    assert foreign_page(patient).status_code == 200
    # ...and signed out once the limit has passed since the last page, whatever the gaps.
    clock.advance(INTERVAL + 2)
    assert patient.client.get("/survey/1").status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Purpose": "prefetch"},
        {"Purpose": "prefetch"},
    ],
)
def test_requests_the_patient_did_not_make_never_slide_the_idle_limit(
    patient, enrolled, invite, clock, idle_limit, headers
):
    patient.opens(invite(enrolled))
    patient.client.get("/survey/1")
    clock.advance(idle_limit - 10)
    for path in ("/survey/1", "/survey", "/static/style.css"):
        response = patient.client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
    assert "Set-Cookie" not in patient.client.get("/static/style.css").headers
    clock.advance(11)
    assert patient.client.get("/survey/1").status_code == 403


def test_a_page_the_patient_asks_for_slides_the_idle_limit(
    patient, enrolled, invite, clock, idle_limit
):
    patient.opens(invite(enrolled))
    clock.advance(idle_limit - 10)
    assert (
        "Set-Cookie" in patient.client.get("/survey/1", headers={"Sec-Fetch-Site": "none"}).headers
    )
    clock.advance(idle_limit - 10)
    assert patient.client.get("/survey/1").status_code == 200


def test_the_interval_is_at_most_half_the_idle_limit(app):
    assert refresh_interval(app) == timedelta(seconds=INTERVAL)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=1)
    assert refresh_interval(app) == timedelta(seconds=30)
    app.config["SESSION_REFRESH_SECONDS"] = 10
    assert refresh_interval(app) == timedelta(seconds=10)


def foreign_page(patient):
    return patient.client.get("/survey/1", headers={"Sec-Fetch-Site": "cross-site"})
