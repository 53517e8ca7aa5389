"""The SMS dispatcher killed (SIGKILL) in the middle of a batch, then started again: no
message is lost and none is sent twice; a send whose outcome is unknown (the one in flight
when the process died) is marked for review instead of being sent again."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from survey.extensions import db
from survey.models import Message, MessageStatus, utcnow
from survey.outreach.patient_schedule import enrol
from survey.outreach.policy import SendingRules, parse_clock
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.outreach import twilio_server

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 24
ALL_DAY = {"SURVEY_SMS_SEND_FROM": "00:00", "SURVEY_SMS_SEND_UNTIL": "23:59"}


def dispatcher(schema: str, twilio_url: str, **settings) -> subprocess.Popen:
    """`flask --app wsgi outreach dispatch --loop`, as systemd would run it."""
    env = {
        **os.environ,
        **ALL_DAY,
        "SURVEY_DATABASE_URL": schema,
        "SURVEY_SECRET_KEY": "dispatcher-test-secret",
        "SURVEY_PUBLIC_URL": "https://survey.example.org",
        "SURVEY_SMS_BACKEND": "twilio",
        "SURVEY_TWILIO_ACCOUNT_SID": twilio_server.ACCOUNT_SID,
        "SURVEY_TWILIO_AUTH_TOKEN": twilio_server.AUTH_TOKEN,
        "SURVEY_TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32,
        "SURVEY_TWILIO_API_URL": twilio_url,
        **settings,
    }
    return subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "outreach",
            "dispatch",
            "--loop",
            "--interval",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def statuses(ids) -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(select(Message.status).where(Message.id.in_(ids))))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    app, schema, site, fake_twilio
):
    rules = SendingRules(parse_clock("00:00"), parse_clock("23:59"))
    schedule = ensure_default_schedule(db.session)
    now = utcnow()
    numbers = [f"+3461200{n:04d}" for n in range(PATIENTS)]
    for n, number in enumerate(numbers):
        enrol(
            db.session,
            site,
            f"K-{n:02d}",
            number,
            "es",
            None,
            (now + timedelta(days=7)).date(),
            schedule,
            now,
            rules,
        )
    db.session.commit()
    due = [m.id for m in db.session.scalars(select(Message)) if m.due_at <= utcnow()]
    assert len(due) == PATIENTS  # one invitation text per patient, due now (reminders later)

    # The provider answers the first two sends and holds the third until after the kill (it
    # accepts it then, as Twilio would a request whose sender died waiting): the kill lands
    # inside a batch, mid-send, however busy the machine is.
    third_held = threading.Event()
    fake_twilio.answer_next(("ok",), ("ok",), ("hold", third_held))
    first = dispatcher(schema, fake_twilio.url)
    try:
        wait_for(lambda: fake_twilio.requests >= 3, 60, "the first sends")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        accepted_before_kill = len(fake_twilio.received)
    finally:
        if first.poll() is None:
            first.kill()
        third_held.set()
    in_flight = fake_twilio.requests - accepted_before_kill  # asked, not yet answered
    assert in_flight == 1 and statuses(due)[MessageStatus.SENDING] == 1, "not killed mid-send"
    wait_for(lambda: len(fake_twilio.received) == 3, 10, "the held send to be accepted")
    # Restarted with no grace: sends left unfinished by the dead process are reviewed at once.
    second = dispatcher(schema, fake_twilio.url, SURVEY_SMS_SENDING_GRACE_MINUTES="0")
    try:
        wait_for(
            lambda: (
                statuses(due)[MessageStatus.PENDING] == 0
                and statuses(due)[MessageStatus.SENDING] == 0
            ),
            60,
            "the restarted dispatcher to finish",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output

    sent_to = Counter(message.to for message in fake_twilio.received)
    assert max(sent_to.values()) == 1, "a patient got the same text twice"
    db.session.expire_all()
    messages = list(db.session.scalars(select(Message).where(Message.id.in_(due))))
    reviewed = [m for m in messages if m.status == MessageStatus.REVIEW]
    delivered = [m for m in messages if m.provider_sid]
    # Nothing lost: every due text either reached the provider once or waits for a person.
    assert {m.patient.phone for m in delivered} | {m.patient.phone for m in reviewed} == set(
        numbers
    )
    assert {m.patient.phone for m in delivered} <= set(sent_to)
    # Only the send in flight at the kill is uncertain, so only it waits for a person; the
    # rest of the queue went out once after the restart.
    assert len(reviewed) == 1, [m.status for m in messages]
    assert len(delivered) == PATIENTS - 1
