"""Quiet hours and per-patient limits, in the patient's own time zone."""

from datetime import UTC, datetime, time, timedelta

import pytest

from survey.extensions import db
from survey.models import Message, MessageKind, MessageStatus
from survey.outreach.policy import (
    DAILY_LIMIT,
    WEEKLY_LIMIT,
    SendingRules,
    limit_wait,
    next_allowed_time,
    parse_clock,
)

RULES = SendingRules()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment, zone, allowed",
    [
        # 10:00 UTC on Monday 2 March 2026 is 11:00 in Madrid: inside the hours.
        (utc(2026, 3, 2, 10), "Europe/Madrid", utc(2026, 3, 2, 10)),
        # ... 05:00 in New York: wait until 09:00 there (14:00 UTC).
        (utc(2026, 3, 2, 10), "America/New_York", utc(2026, 3, 2, 14)),
        # ... 19:00 in Tokyo: still inside; 11:00 UTC is 20:00 there: tomorrow 09:00.
        (utc(2026, 3, 2, 10), "Asia/Tokyo", utc(2026, 3, 2, 10)),
        (utc(2026, 3, 2, 11), "Asia/Tokyo", utc(2026, 3, 3, 0)),
        # ... 23:00 in Auckland (summer time, UTC+13): 09:00 there is 20:00 UTC.
        (utc(2026, 3, 2, 10), "Pacific/Auckland", utc(2026, 3, 2, 20)),
        # 19:59 is allowed, 20:00 is not.
        (utc(2026, 3, 2, 18, 59), "Europe/Madrid", utc(2026, 3, 2, 18, 59)),
        (utc(2026, 3, 2, 19, 0), "Europe/Madrid", utc(2026, 3, 3, 8)),
        # The night Madrid moves its clocks forward (29 March 2026): 09:00 is UTC+2 next day.
        (utc(2026, 3, 28, 22), "Europe/Madrid", utc(2026, 3, 29, 7)),
        # Istanbul keeps UTC+3 all year.
        (utc(2026, 7, 1, 5), "Europe/Istanbul", utc(2026, 7, 1, 6)),
    ],
)
def test_nothing_is_sent_during_quiet_hours_in_the_patients_zone(moment, zone, allowed):
    assert next_allowed_time(moment, zone, RULES) == allowed


def test_quiet_hours_are_configurable():
    rules = SendingRules(time(10, 30), time(18), 1, 3)
    assert next_allowed_time(utc(2026, 3, 2, 9), "Europe/Madrid", rules) == utc(2026, 3, 2, 9, 30)
    with pytest.raises(ValueError):
        SendingRules(time(20), time(9), 1, 3)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("9 o'clock")


def sent(patient, when: datetime, status=MessageStatus.DELIVERED):
    invitation = patient.invitations[0]
    db.session.add(
        Message(
            patient=patient,
            invitation=invitation,
            kind=MessageKind.REMINDER,
            status=status,
            due_at=when,
            sent_at=when,
            attempts=1,
            claimed_at=when,
        )
    )
    db.session.commit()


def test_one_message_a_day_and_three_a_week_in_local_days(enrolled):
    patient = enrolled(timezone="Europe/Madrid")
    now = utc(2026, 3, 4, 10)  # Wednesday 11:00 in Madrid
    assert limit_wait(db.session, patient.id, patient.phone, patient.timezone, now, RULES) is None
    sent(patient, utc(2026, 3, 4, 8))  # this morning, local time
    day, reason = limit_wait(db.session, patient.id, patient.phone, patient.timezone, now, RULES)
    assert (day, reason) == (utc(2026, 3, 4, 23), DAILY_LIMIT)  # local midnight, Thursday


def test_a_message_the_provider_refused_does_not_count(enrolled):
    patient = enrolled(timezone="Europe/Madrid")
    sent(patient, utc(2026, 3, 4, 8), status=MessageStatus.FAILED)
    assert (
        limit_wait(
            db.session, patient.id, patient.phone, patient.timezone, utc(2026, 3, 4, 10), RULES
        )
        is None
    )


def test_three_in_the_last_seven_local_days_hold_the_next_until_the_first_drops_out(enrolled):
    patient = enrolled(timezone="Europe/Madrid")
    for day in (1, 3, 5):  # Sunday 1, Tuesday 3, Thursday 5 March
        sent(patient, utc(2026, 3, day, 9))
    now = utc(2026, 3, 6, 10)
    day, reason = limit_wait(db.session, patient.id, patient.phone, patient.timezone, now, RULES)
    # The 1 March message leaves the seven-day window on 8 March (local midnight, UTC+1).
    assert (day, reason) == (utc(2026, 3, 7, 23), WEEKLY_LIMIT)


def test_a_limit_of_zero_is_no_limit(enrolled):
    patient = enrolled()
    for hours in (1, 2, 3, 4):
        sent(patient, utc(2026, 3, 2, 8) + timedelta(minutes=hours))
    rules = SendingRules(max_per_day=0, max_per_week=0)
    assert (
        limit_wait(
            db.session, patient.id, patient.phone, patient.timezone, utc(2026, 3, 2, 10), rules
        )
        is None
    )
