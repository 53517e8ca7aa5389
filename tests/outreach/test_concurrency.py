"""Many dispatchers at once (PostgreSQL): row claiming with FOR UPDATE SKIP LOCKED means each
message is sent exactly once, and each patient's limits hold across dispatchers."""

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from survey.extensions import db
from survey.models import Message, MessageStatus
from survey.outreach.dispatch import dispatch_due
from tests.outreach.conftest import NOW

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def needs_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "SQLite has no row locks (FOR UPDATE SKIP LOCKED): it runs one dispatcher "
            "at a time. Set SURVEY_TEST_DATABASE_URL to a PostgreSQL database."
        )


def run_dispatchers(count: int, backend, settings, batch_limit=100):
    """Run `count` dispatch passes at the same moment, each with its own connection."""
    Session = sessionmaker(bind=db.engine, expire_on_commit=False)  # noqa: N806
    start = threading.Barrier(count)
    errors, reports = [], []

    def dispatcher():
        session = Session()
        try:
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
