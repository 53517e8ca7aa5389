"""The demo: seeded data tells the published story, and running it twice is safe."""

import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, select

from survey.config import ConfigurationError
from survey.extensions import db
from survey.models import Message, MessageKind, MessageStatus, Patient, Response, User, utcnow
from survey.outreach.background import DEMO_INTERVAL, BackgroundDispatcher, refusal
from survey.phones import display
from tests.conftest import csrf_from
from tests.servers import ROOT, free_port


def run_demo(runner):
    result = runner.invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    return result.output


def scores(reference: str) -> list[tuple[str, str, int, str | None]]:
    patient = db.session.scalar(select(Patient).where(Patient.reference == reference))
    responses = db.session.scalars(
        select(Response)
        .where(Response.patient_id == patient.id)
        .order_by(Response.submitted_at, Response.instrument_id)
    )
    return [(r.invitation.timepoint, r.instrument_id, r.total, r.band) for r in responses]


def test_the_demo_prints_a_login_per_role_and_a_patient_link(runner, app):
    output = run_demo(runner)
    for role in ("admin", "clinician", "coordinator"):
        assert f"{role}@demo.example" in output
    assert "/s/" in output


def test_the_first_demo_patient_follows_the_published_case(runner):
    run_demo(runner)
    history = scores("DEMO-001")
    assert history[0:2] == [("baseline", "ccis", 10, None), ("baseline", "qolaf-q", 51, "high")]
    assert history[-2:] == [("6 months", "ccis", 0, None), ("6 months", "qolaf-q", 28, "limited")]


def test_running_the_demo_twice_adds_nothing_but_new_passwords(runner, staff):
    run_demo(runner)
    counts = [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Patient, Response, User)
    ]
    output = run_demo(runner)
    assert counts == [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Patient, Response, User)
    ]
    # The passwords printed by the latest run are the ones that work.
    line = next(line for line in output.splitlines() if "clinician@demo.example" in line)
    password = line.split()[-1]
    assert staff.login("clinician@demo.example", password).status_code == 302


def test_the_newest_demo_patient_follows_the_default_schedule(runner):
    run_demo(runner)
    patient = db.session.scalar(select(Patient).where(Patient.reference == "DEMO-004"))
    assert patient.schedule is not None
    timepoints = [invitation.timepoint for invitation in patient.invitations]
    assert timepoints[0] == "baseline" and len(timepoints) >= 5
    assert db.session.scalar(select(func.count()).select_from(Message)) > 0


# -- texts flow in the demo: a background dispatcher -------------------------------------------

# Real zones a few hours apart all round the world: at any moment one of them is in the middle
# of its sending hours (09:00-20:00), so a text due now may really go now.
ZONES = (
    "Pacific/Kiritimati",
    "Pacific/Auckland",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Bangkok",
    "Asia/Karachi",
    "Asia/Dubai",
    "Europe/Istanbul",
    "Europe/Madrid",
    "Europe/London",
    "Atlantic/Azores",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
)
PHONE = "+34611222333"
LINK = re.compile(r"https?://[^\s\"<]+/s/([A-Za-z0-9_-]{22})")
WAIT = 20  # seconds: far more than a pass every 2 s needs, so a busy machine does not fail it


def afternoon_zone() -> tuple[str, date]:
    """A zone where it is now near 13:00, and today's date there."""
    now = utcnow()

    def distance(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        return abs(local.hour + local.minute / 60 - 13)

    zone = min(ZONES, key=distance)
    assert distance(zone) <= 2, zone  # the list leaves no gap of more than four hours
    return zone, now.astimezone(ZoneInfo(zone)).date()


def outbox_link(text: str, phone: str) -> str | None:
    """The token of the newest text to `phone` on the outbox page, if there is one yet."""
    for row in text.split("<tr>")[1:]:
        if display(phone) in row and (match := LINK.search(row)):
            return match.group(1)
    return None


def enrol_on_the_web(post, get, zone: str, today: date) -> None:
    """Enrol a patient whose baseline is open now, through the coordinator's form."""
    form = get("/clinic/follow-up/enrol")
    # One site: a hidden field; several: a list whose first choice is taken.
    site_id = re.search(r'name="site_id"(?: type="hidden")? value="(\d+)"', form) or re.search(
        r'name="site_id".*?<option[^>]*value="(\d+)"', form, re.S
    )
    schedule_id = re.search(r'name="schedule_id".*?<option[^>]*value="(\d+)"', form, re.S)
    response = post(
        "/clinic/follow-up/enrol",
        {
            "csrf_token": csrf_from(form),
            "site_id": site_id.group(1),
            "reference": "FLOW-1",
            "phone": PHONE,
            "language": "en",
            "timezone": zone,
            # Baseline opens 14 days before the index date and stays open 14 days: open now.
            "index_date": (today + timedelta(days=7)).isoformat(),
            "schedule_id": schedule_id.group(1),
        },
    )
    assert response.status_code in (302, 303), response.text[:500]


@pytest.fixture
def demo_dispatcher(app, tmp_path):
    """The demo's background dispatcher on the test database, in development settings."""
    app.config.update(ENV="development", SMS_DEV_OUTBOX=str(tmp_path / "outbox.jsonl"))
    dispatcher = BackgroundDispatcher(app).start()
    yield dispatcher
    dispatcher.stop()
    assert not dispatcher.running


def test_enrolling_a_patient_due_now_puts_a_text_in_the_outbox_by_itself(
    client, staff, site, make_user, demo_dispatcher
):
    staff.login(make_user("coordinator", [site]).email)
    zone, today = afternoon_zone()
    started = time.monotonic()
    enrol_on_the_web(
        lambda url, data: client.post(url, data=data),
        lambda url: client.get(url).text,
        zone,
        today,
    )
    token = None
    while token is None and time.monotonic() - started < WAIT:
        page = client.get("/dev/outbox")
        assert page.status_code == 200
        token = outbox_link(page.text, PHONE)
    elapsed = time.monotonic() - started
    assert token, f"no text in the outbox after {elapsed:.1f} s ({demo_dispatcher.passes} passes)"
    assert elapsed < DEMO_INTERVAL + 8  # a pass every 2 s: seconds, not a manual command
    # The link works: it opens the patient's questionnaires.
    opened = client.get(f"/s/{token}")
    assert opened.status_code == 303
    assert client.get(opened.headers["Location"]).status_code == 200
    sent = db.session.scalar(
        select(Message)
        .join(Patient)
        .where(Patient.reference == "FLOW-1", Message.kind == MessageKind.INVITATION)
        .order_by(Message.due_at)
    )
    assert sent.status == MessageStatus.SENT and sent.attempts == 1


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"ENV": "production"}, "SURVEY_ENV is not development"),
        ({"ENV": "development", "SMS_BACKEND": "twilio"}, "SURVEY_SMS_BACKEND is twilio"),
    ],
)
def test_no_background_dispatcher_outside_development_with_the_console(app, settings, reason):
    app.config.update(settings)
    assert reason in refusal(app.config)
    with pytest.raises(ConfigurationError, match=reason):
        BackgroundDispatcher(app)


@pytest.mark.any_database  # the demo runs on its own SQLite file
def test_the_demo_command_serves_and_sends_texts_by_itself(tmp_path):
    """`flask --app wsgi demo` itself, in a process of its own: sign in with the printed
    coordinator password, enrol a patient due now, and the text arrives in the outbox."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "SURVEY_ENV": "development",
        "SURVEY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite'}",
        "SURVEY_SECRET_KEY": "demo-test-secret",
        "SURVEY_SMS_DEV_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "SURVEY_SMS_BACKEND": "console",
    }
    for name in ("SURVEY_PUBLIC_URL", "SURVEY_TEST_DATABASE_URL"):
        env.pop(name, None)
    with log.open("wb") as output:
        process = subprocess.Popen(  # our own command, fixed arguments
            [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90  # migrations and seeding on a busy machine
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        printed = log.read_text(errors="replace")
        assert "sent every 2 s in the background" in printed, printed
        password = next(
            line.split()[-1] for line in printed.splitlines() if "coordinator@demo.example" in line
        )
        browser = requests.Session()

        def get(path):
            response = browser.get(base + path, timeout=30)
            assert response.status_code == 200, (path, response.status_code)
            return response.text

        def post(path, data):
            return browser.post(base + path, data=data, allow_redirects=False, timeout=30)

        signed_in = post(
            "/login",
            {
                "email": "coordinator@demo.example",
                "password": password,
                "csrf_token": csrf_from(get("/login")),
            },
        )
        assert signed_in.status_code == 302, signed_in.text[:300]
        zone, today = afternoon_zone()
        started = time.monotonic()
        enrol_on_the_web(post, get, zone, today)
        token = None
        while token is None and time.monotonic() - started < WAIT:
            token = outbox_link(get("/dev/outbox"), PHONE)
        elapsed = time.monotonic() - started
        assert token, f"no text after {elapsed:.1f} s:\n" + log.read_text(errors="replace")
        print(f"demo: enrolled to text in the outbox in {elapsed:.2f} s")
        opened = browser.get(f"{base}/s/{token}", allow_redirects=False, timeout=30)
        assert opened.status_code == 303
        assert browser.get(base + opened.headers["Location"], timeout=30).status_code == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
