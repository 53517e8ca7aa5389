"""Planned times keep to the patient's clock across daylight-saving changes.

Every planned time (a timepoint's opening and closing, each reminder) is a local date and
clock time in the patient's zone, turned into UTC once. These tests take the spring and autumn
changes of three zones on both sides of the equator and check every planned time against the
clock time promised; and the rule for local times that a change skips (a gap) or repeats (an
overlap): the first moment the patient's clock shows that time or a later one."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from survey.domain.invitations import create_invitation
from survey.extensions import db
from survey.localtime import add_local_days, format_local, local_moment, local_wall
from survey.models import MessageKind
from survey.outreach.patient_schedule import enrol
from survey.outreach.policy import at_local, next_allowed_time
from survey.outreach.schedule_definitions import ScheduleSpec, TimepointSpec, create_schedule
from tests.fixtures.outreach import RULES, messages_of

# (zone, day of the change, direction, the clock before and after it on that day)
CHANGES = [
    ("Europe/Madrid", date(2027, 3, 28), "spring", "CET", "CEST"),
    ("Europe/Madrid", date(2026, 10, 25), "autumn", "CEST", "CET"),
    ("America/New_York", date(2027, 3, 14), "spring", "EST", "EDT"),
    ("America/New_York", date(2026, 11, 1), "autumn", "EDT", "EST"),
    ("Pacific/Auckland", date(2026, 9, 27), "spring", "NZST", "NZDT"),
    ("Pacific/Auckland", date(2027, 4, 4), "autumn", "NZDT", "NZST"),
]
CHANGE_IDS = [f"{zone}-{direction}" for zone, _day, direction, *_ in CHANGES]

# Opens five days before the change; reminders before it, on its day and after it; closes
# nine days after it.
ACROSS = TimepointSpec("across the change", 0, 14, (3, 5, 7, 10))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def clock(moment: datetime, zone: str) -> tuple[date, time, str]:
    local = moment.astimezone(ZoneInfo(zone))
    return local.date(), local.time(), local.tzname()


def schedule_of(*timepoints: TimepointSpec):
    return create_schedule(db.session, ScheduleSpec("DST test", "", timepoints))


def enrol_in(site, zone: str, index_date: date, schedule, now: datetime, reference="DST-1"):
    patient, _changes = enrol(
        db.session, site, reference, "+34612345678", "en", zone, index_date, schedule, now, RULES
    )
    db.session.commit()
    return patient


@pytest.mark.parametrize(
    ("zone", "change", "direction", "before", "after"), CHANGES, ids=CHANGE_IDS
)
def test_every_planned_time_keeps_to_the_local_clock_across_the_change(
    site, zone, change, direction, before, after
):
    index_date = change - timedelta(days=5)
    patient = enrol_in(
        site, zone, index_date, schedule_of(ACROSS), now=utc(2026, 1, 1) + timedelta(days=1)
    )
    [invitation] = patient.invitations
    opening, closing = clock(invitation.opens_at, zone), clock(invitation.expires_at, zone)
    assert opening == (index_date, time(9), before)
    assert closing == (index_date + timedelta(days=14), time(9), after)
    # The change really lies in between: the window is an hour shorter or longer than 14 days.
    hours = (invitation.expires_at - invitation.opens_at) / timedelta(hours=1)
    assert hours == (14 * 24 - 1 if direction == "spring" else 14 * 24 + 1)

    first, *reminders = messages_of(patient)
    assert (first.kind, first.due_at) == (MessageKind.INVITATION, invitation.opens_at)
    assert [m.kind for m in reminders] == [MessageKind.REMINDER] * len(ACROSS.reminder_days)
    planned = [clock(m.due_at, zone) for m in reminders]
    expected_days = [index_date + timedelta(days=d) for d in ACROSS.reminder_days]
    assert [(day, at) for day, at, _name in planned] == [(d, time(9)) for d in expected_days]
    # Three days after opening is still before the change; the others are after it.
    assert [name for *_rest, name in planned] == [before, after, after, after]


@pytest.mark.parametrize(
    ("zone", "change", "direction", "before", "after"), CHANGES, ids=CHANGE_IDS
)
def test_the_whole_default_schedule_opens_and_closes_at_nine_local(
    site, zone, change, direction, before, after
):
    from survey.outreach.schedule_definitions import ensure_default_schedule

    # Index date on the change: baseline straddles it, later timepoints land in both seasons.
    patient = enrol_in(site, zone, change, ensure_default_schedule(db.session), utc(2026, 1, 1))
    checked = 0
    for invitation in patient.invitations:
        timepoint = invitation.timepoint
        assert local_wall(invitation.opens_at, zone).time() == time(9), timepoint
        assert local_wall(invitation.expires_at, zone).time() == time(9), timepoint
        opens_on = local_wall(invitation.opens_at, zone).date()
        closes_on = local_wall(invitation.expires_at, zone).date()
        window = {"baseline": 14, "3 weeks": 14, "3 months": 21, "6 months": 21}.get(timepoint, 28)
        assert closes_on - opens_on == timedelta(days=window), timepoint
        reminders = [
            m
            for m in messages_of(patient, MessageKind.REMINDER)
            if m.invitation_id == invitation.id
        ]
        assert reminders, timepoint
        for reminder in reminders:
            assert local_wall(reminder.due_at, zone).time() == time(9), timepoint
            checked += 1
    assert checked == 2 + 2 + 3 + 3 + 3
    names = {clock(i.opens_at, zone)[2] for i in patient.invitations}
    assert names == {before, after}  # the schedule runs through both seasons


def test_the_issue_example_madrid_three_months_opens_and_closes_at_nine(site):
    """Reported: "opens 2027-03-16 09:00 CET, closes 2027-04-06 10:00 CEST", last reminder
    "2027-03-30 10:00 CEST"."""
    from survey.outreach.schedule_definitions import ensure_default_schedule

    patient = enrol_in(
        site,
        "Europe/Madrid",
        date(2026, 12, 15),
        ensure_default_schedule(db.session),
        utc(2026, 12, 1),
    )
    three_months = next(i for i in patient.invitations if i.timepoint == "3 months")
    zone = "Europe/Madrid"
    assert format_local(three_months.opens_at, zone) == "2027-03-16 09:00 CET"
    assert format_local(three_months.expires_at, zone) == "2027-04-06 09:00 CEST"
    reminders = [
        format_local(m.due_at, zone)
        for m in messages_of(patient, MessageKind.REMINDER)
        if m.invitation_id == three_months.id
    ]
    assert reminders == ["2027-03-19 09:00 CET", "2027-03-23 09:00 CET", "2027-03-30 09:00 CEST"]


@pytest.mark.parametrize(
    ("zone", "change", "direction", "before", "after"), CHANGES, ids=CHANGE_IDS
)
def test_reminders_of_a_timepoint_open_at_enrolment_keep_the_time_it_was_sent(
    site, zone, change, direction, before, after
):
    # Enrolled at 14:37:20 local two days before the change, with the timepoint already open:
    # the invitation goes now, the reminders at 14:37:20 on their days, after the change too.
    index_date = change - timedelta(days=4)
    now = at_local(change - timedelta(days=2), time(14, 37, 20), zone)
    patient = enrol_in(site, zone, index_date, schedule_of(ACROSS), now)
    first, *reminders = messages_of(patient)
    assert first.due_at == now
    assert [clock(m.due_at, zone)[:2] for m in reminders] == [
        (change - timedelta(days=2) + timedelta(days=days), time(14, 37, 20))
        for days in ACROSS.reminder_days
        if days < 12  # the window closes 14 days after the index date: 12 after sending
    ]
    assert {clock(m.due_at, zone)[2] for m in reminders} == {after}


def test_an_invitation_made_by_hand_closes_at_its_local_time(site, make_patient):
    patient = make_patient(site, reference="HAND")  # Europe/Madrid
    opens_at = at_local(date(2027, 3, 20), time(16, 45), "Europe/Madrid")
    invitation = create_invitation(db.session, patient, "ad hoc", opens_at=opens_at)
    assert format_local(invitation.expires_at, "Europe/Madrid") == "2027-04-03 16:45 CEST"
    assert invitation.expires_at - invitation.opens_at == timedelta(days=14, hours=-1)


# -- the rule for times a change skips or repeats ---------------------------------------------

# (zone, a local time the spring change skips, when it is planned: the moment the clocks jump)
GAPS = [
    ("Europe/Madrid", datetime(2027, 3, 28, 2, 30), utc(2027, 3, 28, 1), "03:00 CEST"),
    ("America/New_York", datetime(2027, 3, 14, 2, 0), utc(2027, 3, 14, 7), "03:00 EDT"),
    ("America/New_York", datetime(2027, 3, 14, 2, 59, 59), utc(2027, 3, 14, 7), "03:00 EDT"),
    ("Pacific/Auckland", datetime(2026, 9, 27, 2, 15), utc(2026, 9, 26, 14), "03:00 NZDT"),
]
# (zone, a local time the autumn change repeats, its first occurrence in UTC)
OVERLAPS = [
    ("Europe/Madrid", datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30), "02:30 CEST"),
    ("America/New_York", datetime(2026, 11, 1, 1, 0), utc(2026, 11, 1, 5), "01:00 EDT"),
    ("America/New_York", datetime(2026, 11, 1, 1, 59), utc(2026, 11, 1, 5, 59), "01:59 EDT"),
    ("Pacific/Auckland", datetime(2027, 4, 4, 2, 30), utc(2027, 4, 3, 13, 30), "02:30 NZDT"),
]


@pytest.mark.parametrize(("zone", "wall", "expected", "shown"), GAPS)
def test_a_time_the_clocks_skip_is_planned_for_the_moment_they_jump(zone, wall, expected, shown):
    moment = local_moment(wall.date(), wall.time(), zone)
    assert moment == expected
    assert format_local(moment, zone).endswith(shown)
    # Nothing earlier shows that time or later: one second before, the clock is before the gap.
    assert local_wall(moment - timedelta(seconds=1), zone) < wall
    assert local_wall(moment, zone) >= wall


@pytest.mark.parametrize(("zone", "wall", "expected", "shown"), OVERLAPS)
def test_a_time_the_clocks_repeat_is_planned_for_its_first_occurrence(zone, wall, expected, shown):
    moment = local_moment(wall.date(), wall.time(), zone)
    assert moment == expected
    assert format_local(moment, zone).endswith(shown)
    assert local_wall(moment, zone) == wall
    assert local_wall(moment + timedelta(hours=1), zone) == wall  # the same clock, an hour on
    assert local_wall(moment - timedelta(seconds=1), zone) < wall


def test_times_outside_a_change_are_the_plain_conversion():
    assert local_moment(date(2027, 3, 27), time(2, 30), "Europe/Madrid") == utc(2027, 3, 27, 1, 30)
    assert local_moment(date(2027, 3, 29), time(2, 30), "Europe/Madrid") == utc(2027, 3, 29, 0, 30)
    assert local_moment(date(2026, 7, 1), time(9), "UTC") == utc(2026, 7, 1, 9)


def test_a_reminder_whose_clock_time_the_change_skips_goes_when_the_clocks_jump(site):
    # Sent at 02:30 on a Thursday night in Madrid (quiet hours will hold it, but the plan is
    # the plan): three days later 02:30 does not exist, so the reminder is planned for 03:00.
    zone = "Europe/Madrid"
    now = at_local(date(2027, 3, 25), time(2, 30), zone)
    patient = enrol_in(site, zone, date(2027, 3, 24), schedule_of(ACROSS), now)
    first, *reminders = messages_of(patient)
    assert first.due_at == now
    assert format_local(reminders[0].due_at, zone) == "2027-03-28 03:00 CEST"
    assert format_local(reminders[1].due_at, zone) == "2027-03-30 02:30 CEST"


def test_a_reminder_whose_clock_time_the_change_repeats_goes_at_the_first(site):
    zone = "America/New_York"
    now = at_local(date(2026, 10, 29), time(1, 30), zone)
    patient = enrol_in(site, zone, date(2026, 10, 28), schedule_of(ACROSS), now)
    _first, *reminders = messages_of(patient)
    assert reminders[0].due_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST
    assert format_local(reminders[0].due_at, zone) == "2026-11-01 01:30 EDT"


def test_adding_days_keeps_the_clock_whatever_the_change():
    start = utc(2027, 3, 26, 8)  # 09:00 CET
    assert add_local_days(start, 3, "Europe/Madrid") == utc(2027, 3, 29, 7)  # 09:00 CEST
    assert add_local_days(start, 0, "Europe/Madrid") == start
    back = utc(2026, 10, 23, 7)  # 09:00 CEST
    assert add_local_days(back, 3, "Europe/Madrid") == utc(2026, 10, 26, 8)  # 09:00 CET


def test_quiet_hours_still_end_at_the_start_of_sending_hours_after_a_change():
    # Unchanged behaviour: 23:00 the night before the change waits for 09:00 after it.
    night = at_local(date(2027, 3, 27), time(23), "Europe/Madrid")
    assert format_local(next_allowed_time(night, "Europe/Madrid", RULES), "Europe/Madrid") == (
        "2027-03-28 09:00 CEST"
    )
