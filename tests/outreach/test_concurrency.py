"""Many dispatchers at once (PostgreSQL): row claiming with FOR UPDATE SKIP LOCKED means each
message is sent exactly once, and each patient's limits hold across dispatchers; one that
sends several at once claims them as a batch, judged in order, committed before their sends."""

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import event, func, select
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


def test_a_batch_is_claimed_in_one_transaction_committed_before_its_sends(enrolled, settings):
    numbers = [f"+3461234{n:04d}" for n in range(8)]
    for n, number in enumerate(numbers):
        enrolled(f"P-{n:02d}", phone=number)
    seen, lock, engine = [], threading.Lock(), db.engine  # the senders have no app context

    class Watching:
        name = "watching"

        def send(self, sms):
            # What another connection sees while this message is with the provider.
            with engine.connect() as other:
                statuses = Counter(other.scalars(select(Message.status)).all())
            with lock:
                seen.append(statuses)
            time.sleep(0.02)
            return SendResult(Outcome.ACCEPTED, provider_sid=f"SM{sms.message_id:032d}")

    commits = []
    listen = ("commit", lambda *args: commits.append(1))
    event.listen(db.engine, *listen)
    try:
        report = dispatch_due(db.session, Watching(), replace(settings, concurrency=4), now=NOW)
    finally:
        event.remove(db.engine, *listen)
    assert report.sent == 8
    # The sweeps, two batches of four (the first batch's outcomes with the second's claim),
    # and a claim that finds nothing more with the second's outcomes: not one or two a message.
    assert len(commits) == 4
    # Each send found its whole batch committed as `sending`, and never more than the batch.
    assert sorted(statuses[MessageStatus.SENDING] for statuses in seen) == [4] * 8
    assert sorted(statuses[MessageStatus.QUEUED] for statuses in seen) == [0] * 4 + [4] * 4


def test_a_batch_is_judged_in_order_each_claim_counting_towards_the_next(
    enrolled, twilio, settings, fake_twilio, other_site
):
    first = enrolled("CHILD-1", phone="+34612345678")
    enrolled("CHILD-2", phone="+34612345678", enrol_site=other_site)
    enrolled("OTHER", phone="+34612345679")
    report = dispatch_due(db.session, twilio, replace(settings, concurrency=4), now=NOW)
    # One claim transaction for all three: the shared number's second text waits, as it would
    # have had the first been claimed and committed before it.
    assert (report.sent, report.waiting) == (2, 1)
    assert len(fake_twilio.bodies_to("+34612345678")) == 1
    held = db.session.scalars(select(Message).where(Message.wait_reason.is_not(None))).all()
    assert [message.wait_reason for message in held] == ["phone_daily_limit"]
    assert held[0].patient_id != first.id  # the first due (the first enrolled) went


def test_each_batch_is_judged_and_stamped_at_its_own_moment(
    enrolled, twilio, settings, fake_twilio
):
    for n in range(6):
        enrolled(f"P-{n}", phone=f"+3461200000{n}")  # Madrid: quiet hours from 19:00 UTC
    moments = iter(
        datetime(2026, 3, 2, 18, 50, tzinfo=UTC) + timedelta(minutes=4 * n) for n in range(9)
    )
    report = dispatch_due(
        db.session,
        twilio,
        replace(settings, concurrency=2),
        now=datetime(2026, 3, 2, 18, 50, tzinfo=UTC),
        clock=lambda: next(moments),
    )
    # Batches of two at 18:50 and 18:54 go; at 18:58 too little time is left before 19:00.
    assert (report.sent, report.waiting) == (4, 2)
    assert sorted(message.validity_period for message in fake_twilio.received) == [
        360,
        360,
        600,
        600,
    ]
    sent_at = db.session.scalars(select(Message.sent_at).where(Message.sent_at.is_not(None))).all()
    assert sorted(sent_at) == [datetime(2026, 3, 2, 18, m, tzinfo=UTC) for m in (50, 50, 54, 54)]
