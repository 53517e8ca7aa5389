"""Enrolment with a schedule: invitations and their messages planned in one transaction, and
moved, paused or cancelled when the patient's details change."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey.domain.enrolment import EnrolmentError
from survey.extensions import db
from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    PatientStatus,
)
from survey.outreach import patient_schedule
from survey.outreach.schedule_definitions import (
    DEFAULT_SCHEDULE,
    ScheduleError,
    ScheduleSpec,
    TimepointSpec,
    check_schedule,
    create_schedule,
    ensure_default_schedule,
    from_data,
    to_data,
)
from tests.fixtures.outreach import NOW, RULES, messages_of


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_default_schedule_is_valid_and_stored_once(app):
    assert check_schedule(DEFAULT_SCHEDULE) == DEFAULT_SCHEDULE
    first = ensure_default_schedule(db.session)
    assert ensure_default_schedule(db.session) is first
    assert [tp.label for tp in first.timepoints] == [
        "baseline",
        "3 weeks",
        "3 months",
        "6 months",
        "12 months",
    ]


def test_enrolling_on_a_schedule_plans_every_timepoint_in_the_patients_morning(enrolled):
    # Index date in three weeks: baseline opens in a week, at 09:00 in Madrid.
    patient = enrolled(index_date=date(2026, 3, 23))
    invitations = patient.invitations
    assert [i.timepoint for i in invitations] == [
        "baseline",
        "3 weeks",
        "3 months",
        "6 months",
        "12 months",
    ]
    baseline = invitations[0]
    assert baseline.opens_at == utc(2026, 3, 9, 8)  # 09:00 CET
    assert baseline.expires_at == utc(2026, 3, 23, 8)
    assert invitations[1].opens_at == utc(2026, 4, 13, 7)  # 09:00 CEST, after the clocks change
    first, *reminders = messages_of(patient)[:3]
    assert (first.kind, first.due_at) == (MessageKind.INVITATION, baseline.opens_at)
    assert [r.due_at - first.due_at for r in reminders] == [timedelta(days=4), timedelta(days=10)]
    assert all(m.status == MessageStatus.PENDING for m in messages_of(patient))


def test_an_open_timepoint_is_sent_now_and_closed_ones_are_skipped(site):
    schedule = ensure_default_schedule(db.session)
    patient, changes = patient_schedule.enrol(
        db.session,
        site,
        "LATE-1",
        "+34612345678",
        "es",
        None,
        date(2026, 2, 1),
        schedule,
        NOW,
        RULES,
    )
    db.session.commit()
    assert changes.closed == ["baseline"]
    assert changes.created == ["3 weeks", "3 months", "6 months", "12 months"]
    three_weeks = messages_of(patient, MessageKind.INVITATION)[0]
    assert (three_weeks.invitation.timepoint, three_weeks.due_at) == ("3 weeks", NOW)


def test_reminders_that_would_fall_after_the_window_are_not_planned(enrolled):
    patient = enrolled()  # baseline open now, closing in 7 days
    baseline = [m for m in messages_of(patient) if m.invitation.timepoint == "baseline"]
    assert [m.kind for m in baseline] == [MessageKind.INVITATION, MessageKind.REMINDER]
    assert baseline[0].due_at == NOW


def test_enrolment_is_one_transaction(site):
    schedule = ensure_default_schedule(db.session)
    db.session.commit()
    patient_schedule.enrol(
        db.session,
        site,
        "GONE",
        "+34612345678",
        "es",
        None,
        date(2026, 3, 20),
        schedule,
        NOW,
        RULES,
    )
    db.session.rollback()
    assert db.session.scalar(select(func.count(Invitation.id))) == 0
    assert db.session.scalar(select(func.count(Message.id))) == 0


def test_a_schedule_needs_an_index_date_and_a_number(site):
    schedule = ensure_default_schedule(db.session)
    with pytest.raises(EnrolmentError, match="index date"):
        patient_schedule.enrol(
            db.session, site, "X", "+34612345678", "es", None, None, schedule, NOW, RULES
        )
    with pytest.raises(EnrolmentError, match="mobile number"):
        patient_schedule.enrol(
            db.session, site, "X", "", "es", None, date(2026, 3, 20), schedule, NOW, RULES
        )


def change(patient, **fields):
    values = dict(
        phone=patient.phone,
        language=patient.language,
        timezone=patient.timezone,
        index_date=patient.index_date,
        schedule=patient.schedule,
        now=NOW,
        rules=RULES,
    )
    values.update(fields)
    result = patient_schedule.update_details(db.session, patient, **values)
    db.session.commit()
    return result


def test_a_new_index_date_moves_invitations_not_yet_sent_and_keeps_sent_ones(enrolled):
    patient = enrolled(index_date=date(2026, 3, 9))  # baseline open now
    baseline_message = messages_of(patient, MessageKind.INVITATION)[0]
    baseline_message.status, baseline_message.attempts = MessageStatus.DELIVERED, 1
    db.session.commit()
    before = {i.timepoint: i.opens_at for i in patient.invitations}

    changed, changes = change(patient, index_date=date(2026, 3, 16))

    assert set(changed) == {"index_date"}
    assert changes.moved == ["3 weeks", "3 months", "6 months", "12 months"]
    db.session.expire_all()
    after = {i.timepoint: i.opens_at for i in patient.invitations}
    assert after["baseline"] == before["baseline"]  # already sent: the patient has the link
    assert after["3 weeks"] == before["3 weeks"] + timedelta(days=7)
    three_weeks = next(i for i in patient.invitations if i.timepoint == "3 weeks")
    planned = [m for m in messages_of(patient) if m.invitation_id == three_weeks.id]
    assert planned[0].due_at == three_weeks.opens_at


def test_moving_the_index_date_back_schedules_a_baseline_that_was_skipped(site):
    schedule = ensure_default_schedule(db.session)
    patient, changes = patient_schedule.enrol(
        db.session,
        site,
        "TYPO",
        "+34612345678",
        "es",
        None,
        date(2026, 1, 10),
        schedule,
        NOW,
        RULES,
    )
    db.session.commit()
    assert "baseline" in changes.closed
    _changed, changes = change(patient, index_date=date(2026, 3, 20))
    assert "baseline" in changes.created


def test_moving_a_timepoint_into_the_past_cancels_it(enrolled):
    patient = enrolled(index_date=date(2026, 3, 20))
    _changed, changes = change(patient, index_date=date(2026, 1, 1))
    assert {"baseline", "3 weeks"} <= set(changes.closed)
    db.session.expire_all()
    baseline = next(i for i in patient.invitations if i.timepoint == "baseline")
    assert baseline.status == InvitationStatus.CANCELLED


def test_a_new_time_zone_moves_unsent_invitations_to_the_new_morning(enrolled):
    patient = enrolled(index_date=date(2026, 4, 20))
    _changed, changes = change(patient, timezone="America/New_York")
    assert "baseline" in changes.moved
    db.session.expire_all()
    assert patient.invitations[0].opens_at == utc(2026, 4, 6, 13)  # 09:00 EDT


def test_changing_schedule_cancels_timepoints_the_new_one_lacks(enrolled, app):
    patient = enrolled(index_date=date(2026, 4, 20))
    short = create_schedule(
        db.session,
        ScheduleSpec(
            "Short",
            "",
            (
                TimepointSpec("baseline", -14, 14, (4,)),
                TimepointSpec("6 weeks", 42, 14, (3,)),
            ),
        ),
    )
    db.session.commit()
    _changed, changes = change(patient, schedule=short)
    assert set(changes.cancelled) == {"baseline", "3 weeks", "3 months", "6 months", "12 months"}
    assert set(changes.created) == {"baseline", "6 weeks"}


def test_pausing_holds_and_withdrawing_cancels_everything_pending(enrolled):
    patient = enrolled()
    patient_schedule.pause(patient)
    assert patient.status == PatientStatus.PAUSED
    with pytest.raises(EnrolmentError):
        patient_schedule.pause(patient)
    patient_schedule.resume(patient)
    cancelled = patient_schedule.withdraw(db.session, patient)
    db.session.commit()
    assert cancelled == len(messages_of(patient))
    assert {m.status for m in messages_of(patient)} == {MessageStatus.CANCELLED}
    assert {i.status for i in patient.invitations} == {InvitationStatus.CANCELLED}
    with pytest.raises(EnrolmentError):
        change(patient, index_date=date(2026, 5, 1))


@pytest.mark.parametrize(
    "timepoints, problem",
    [
        ((), "at least one timepoint"),
        ((TimepointSpec("", 0, 14),), r"The timepoint is required \(1 to 64 characters\)"),
        ((TimepointSpec("a", 0, 14), TimepointSpec("A", 10, 14)), "Two timepoints"),
        ((TimepointSpec("a", 0, 0),), "window must be"),
        ((TimepointSpec("a", 99999, 14),), "day must be between"),
        ((TimepointSpec("a", 0, 14, (14,)),), "reminders must fall inside the window"),
        ((TimepointSpec("a", 0, 14, (0,)),), "reminders must fall inside the window"),
        ((TimepointSpec("a", 0, 30, (1, 2, 3, 4, 5, 6)),), "at most 5 reminders"),
        ((TimepointSpec("a", 0, 14, (), ("sf-36",)),), "choose one or more"),
        ((TimepointSpec("a", 0, 14, (), ()),), "choose one or more"),
    ],
)
def test_a_schedule_with_a_problem_is_refused_with_the_reason(app, timepoints, problem):
    with pytest.raises(ScheduleError, match=problem):
        check_schedule(ScheduleSpec("Mine", "", timepoints))


def test_schedules_round_trip_through_their_file_format(app):
    schedule = ensure_default_schedule(db.session)
    data = to_data(schedule)
    data["name"] = "Imported"
    copy = create_schedule(db.session, from_data(data))
    assert to_data(copy)["timepoints"] == to_data(schedule)["timepoints"]
    with pytest.raises(ScheduleError, match="already exists"):
        create_schedule(db.session, from_data(data))
    with pytest.raises(ScheduleError):
        from_data({"name": "x", "timepoints": [{"label": "a", "day": "soon"}]}) and check_schedule(
            from_data({"name": "x", "timepoints": [{"label": "a", "day": "soon"}]})
        )
