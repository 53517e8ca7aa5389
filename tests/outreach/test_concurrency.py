"""Many dispatchers at once (PostgreSQL): row claiming with FOR UPDATE SKIP LOCKED means each
message is sent exactly once, and each patient's limits hold across dispatchers."""

import threading
import time
from collections import Counter
from dataclasses import replace

import pytest
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from survey.extensions import db
from survey.models import Message, MessageStatus
from survey.outreach.backends import Outcome, SendResult
from survey.outreach.dispatch import dispatch_due
from tests.fixtures.outreach import NOW
from tests.outreach.test_dispatch import Killed

pytestmark = pytest.mark.postgres_only(
    reason="SQLite has no row locks (FOR UPDATE SKIP LOCKED): it runs one dispatcher at a "
    "time. Set SURVEY_TEST_DATABASE_URL to a PostgreSQL database."
)


def run_dispatchers(count: int, backend, settings, batch_limit=100):
    """Run `count` dispatch passes at the same moment, each with its own connection."""
    Session = sessionmaker(bind=db.engine, expire_on_commit=False)  # noqa: N806
    start = threading.Barrier(count)
    errors, reports = [], []
    # Each dispatcher is a process with the app's context, as `outreach dispatch` is.
    app = current_app._get_current_object()

    def dispatcher():
        session = Session()
        try:
            app.app_context().push()
            start.wait()
            reports.append(dispatch_due(session, backend, settings, now=NOW, limit=batch_limit))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return reports


def test_two_dispatchers_never_send_the_same_message_twice(enrolled, twilio, settings, fake_twilio):
    numbers = [f"+3461234{n:04d}" for n in range(24)]
    for n, number in enumerate(numbers):
        enrolled(f"P-{n:02d}", phone=number)
    fake_twilio.delay = 0.02  # keep both dispatchers busy at the same time
    reports = run_dispatchers(2, twilio, settings)

    sent_to = Counter(message.to for message in fake_twilio.received)
    assert sorted(sent_to) == sorted(numbers)
    assert set(sent_to.values()) == {1}
    assert sum(report.sent for report in reports) == 24
    assert all(report.sent > 0 for report in reports), "both dispatchers did some of the work"
    attempts = db.session.scalars(
        select(Message.attempts).where(Message.status == MessageStatus.QUEUED)
    ).all()
    assert attempts == [1] * 24


def test_many_dispatchers_respect_one_patients_daily_limit(enrolled, twilio, settings, fake_twilio):
    patient = enrolled()
    # Two messages due now for one patient: only one may go today.
    reminder = db.session.scalars(
        select(Message).where(Message.patient_id == patient.id, Message.kind == "reminder")
    ).first()
    reminder.due_at = NOW
    db.session.commit()
    fake_twilio.delay = 0.05
    run_dispatchers(4, twilio, settings)
    assert len(fake_twilio.received) == 1
    sent = db.session.scalar(
        select(func.count(Message.id)).where(Message.patient_id == patient.id, Message.attempts > 0)
    )
    assert sent == 1


def test_one_dispatcher_sending_in_parallel_sends_each_message_once(
    enrolled, twilio, settings, fake_twilio
):
    numbers = [f"+3461234{n:04d}" for n in range(24)]
    for n, number in enumerate(numbers):
        enrolled(f"P-{n:02d}", phone=number)
    fake_twilio.delay = 0.05  # a slow provider, so that parallel sends overlap
    lock, in_flight, most = threading.Lock(), [0], [0]

    class Watching:
        name = "watching"

        def send(self, sms):
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                return twilio.send(sms)
            finally:
                with lock:
                    in_flight[0] -= 1

    report = dispatch_due(db.session, Watching(), replace(settings, concurrency=4), now=NOW)
    db.session.expire_all()
    assert report.sent == 24
    assert Counter(message.to for message in fake_twilio.received) == Counter(numbers)
    assert 1 < most[0] <= 4, "the sends overlapped, never more than four at once"
    attempts = db.session.scalars(
        select(Message.attempts).where(Message.status == MessageStatus.QUEUED)
    ).all()
    assert attempts == [1] * 24


def test_parallel_senders_respect_one_patients_daily_limit(enrolled, twilio, settings, fake_twilio):
    patient = enrolled()
    reminder = db.session.scalars(
        select(Message).where(Message.patient_id == patient.id, Message.kind == "reminder")
    ).first()
    reminder.due_at = NOW
    db.session.commit()
    fake_twilio.delay = 0.05
    report = dispatch_due(db.session, twilio, replace(settings, concurrency=4), now=NOW)
    assert (report.sent, len(fake_twilio.received)) == (1, 1)


def test_parallel_senders_stop_together_when_one_fails(enrolled, settings):
    for n in range(12):
        enrolled(f"P-{n:02d}", phone=f"+3461234{n:04d}")
    calls = []

    class FailsOnce:
        name = "fails-once"

        def send(self, sms):
            calls.append(sms)
            if len(calls) == 3:
                raise Killed
            time.sleep(0.02)
            return SendResult(Outcome.ACCEPTED, provider_sid=f"SM{sms.message_id:032d}")

    with pytest.raises(Killed):
        dispatch_due(db.session, FailsOnce(), replace(settings, concurrency=3), now=NOW)
    db.session.expire_all()
    statuses = Counter(
        db.session.scalars(select(Message.status).where(Message.due_at <= NOW)).all()
    )
    # Only the message in the failing sender's hands is left in `sending`; the other senders
    # finished the one they held and stopped; the rest wait for the next pass.
    assert statuses[MessageStatus.SENDING] == 1
    assert statuses[MessageStatus.PENDING] >= 12 - len(calls)
    assert len(calls) < 12
