"""The SMS dispatcher killed (SIGKILL) in the middle of a batch, then started again: no
message is lost and none is sent twice; a send whose outcome is unknown (one in flight when
the process died: one message, or with several sent at once the batch in flight, at most
that many) is marked for review instead of being sent again."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
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


def enrol_due(site) -> tuple[list[str], list[int]]:
    """PATIENTS patients whose invitation text is due now: their numbers, the texts' ids."""
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
    return numbers, due


def kill_mid_send(schema, fake_twilio, asked: int, **settings) -> int:
    """Start a dispatcher and SIGKILL it once `asked` sends have reached the provider, which
    answers the first two and holds the third until after the kill (it accepts it then, as
    Twilio would a request whose sender died waiting): the kill lands inside a batch,
    mid-send, however busy the machine is. Returns how many the provider had accepted."""
    third_held = threading.Event()
    fake_twilio.answer_next(("ok",), ("ok",), ("hold", third_held))
    first = dispatcher(schema, fake_twilio.url, **settings)
    try:
        wait_for(lambda: fake_twilio.requests >= asked, 60, "the first sends")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        accepted_before_kill = len(fake_twilio.received)
    finally:
        if first.poll() is None:
            first.kill()
        third_held.set()
    return accepted_before_kill


def restart_until_done(schema, fake_twilio, due) -> None:
    """Restarted with no grace: sends left unfinished by the dead process are reviewed at
    once; wait until nothing due is pending or being sent."""
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


def outcomes(fake_twilio, numbers, due) -> tuple[list[Message], list[Message]]:
    """The texts reviewed and those the provider took, once the queue is done; checks that
    none was sent twice and none lost."""
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
    return reviewed, delivered


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    app, schema, site, fake_twilio
):
    numbers, due = enrol_due(site)
    accepted_before_kill = kill_mid_send(schema, fake_twilio, 3)
    in_flight = fake_twilio.requests - accepted_before_kill  # asked, not yet answered
    assert in_flight == 1 and statuses(due)[MessageStatus.SENDING] == 1, "not killed mid-send"
    wait_for(lambda: len(fake_twilio.received) == 3, 10, "the held send to be accepted")
    restart_until_done(schema, fake_twilio, due)
    reviewed, delivered = outcomes(fake_twilio, numbers, due)
    # Only the send in flight at the kill is uncertain, so only it waits for a person; the
    # rest of the queue went out once after the restart.
    assert len(reviewed) == 1, [m.status for m in reviewed]
    assert len(delivered) == PATIENTS - 1


@pytest.mark.postgres_only(reason="SQLite sends one message at a time, whatever the setting")
def test_a_dispatcher_sending_four_at_once_killed_leaves_at_most_its_batch_for_review(
    app, schema, site, fake_twilio
):
    numbers, due = enrol_due(site)
    # The first batch of four reaches the provider together; the third to arrive is held.
    kill_mid_send(schema, fake_twilio, 4, SURVEY_SMS_DISPATCH_CONCURRENCY="4")
    # Its outcomes are recorded with the next batch's claim, which never came: the whole
    # batch is in `sending`, the answered three too, and nothing beyond it.
    assert statuses(due)[MessageStatus.SENDING] == 4, "not killed mid-batch"
    assert statuses(due)[MessageStatus.PENDING] == PATIENTS - 4
    wait_for(lambda: len(fake_twilio.received) == 4, 10, "the held send to be accepted")
    restart_until_done(schema, fake_twilio, due)
    reviewed, delivered = outcomes(fake_twilio, numbers, due)
    # The batch in flight waits for a person (the provider's status reports will tell what
    # became of the three it answered); every other text went out once after the restart.
    assert len(reviewed) == 4, [m.status for m in reviewed]
    assert len(delivered) == PATIENTS - 4
