"""Next due and overdue kept on the summary row stay equal to the patient's invitations
through every change: enrolment, the clock passing a closing, answers, a cancellation, a
new episode and withdrawal; and the list sorted by next due or filtered by overdue agrees
with the patient page's definitions (`survey.clinic.followup`)."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import event, select

from survey.clinic import followup
from survey.demo import answers_for_total
from survey.domain import submission
from survey.domain.summaries import refresh_stale_follow_up
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import Invitation, InvitationStatus, PatientStatus, PatientSummary
from survey.outreach import invitation_messages, patient_schedule
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.clinic.test_listing import page_of
from tests.fixtures.clinic import CCIS_ITEMS
from tests.fixtures.outreach import RULES

INDEX = date(2026, 3, 9)
ENROLLED = datetime(2026, 3, 2, 10, tzinfo=UTC)  # a week before the index date
GRACES = (timedelta(0), timedelta(days=7))


def invitations_of(patient) -> list[Invitation]:
    return list(
        db.session.scalars(
            select(Invitation).where(Invitation.patient_id == patient.id).order_by(Invitation.id)
        )
    )


def check(patient, user, now: datetime) -> PatientSummary:
    """The stored follow-up at `now` equals the definitions worked out in Python."""
    refresh_stale_follow_up(db.session, now)
    db.session.expire_all()
    summary = db.session.get(PatientSummary, patient.id)
    invitations = invitations_of(patient)
    expected = followup.next_invitation(invitations, now)
    assert (summary.next_due_at, summary.next_closes_at) == (
        (expected.opens_at, expected.expires_at) if expected else (None, None)
    )
    assert summary.next_due_from is None or summary.next_due_from <= now
    for grace in GRACES:
        overdue = followup.overdue_invitation(patient, invitations, now, grace) is not None
        stored = summary.overdue_since is not None and summary.overdue_since <= now - grace
        assert stored == overdue, (now, grace)
    # The list, sorted by next due and filtered by overdue, shows the same.
    (row,) = page_of(user, now=now, sort="next_due").rows
    assert row.next_due == (expected.opens_at if expected else None)
    assert row.overdue == (
        followup.overdue_invitation(patient, invitations, now, timedelta(days=7)) is not None
    )
    overdue_rows = page_of(user, now=now, overdue=True).rows
    assert [r.id for r in overdue_rows] == ([patient.id] if row.overdue else [])
    return summary


def answer(invitation, at: datetime) -> None:
    qolaf = get_instrument("qolaf-q")
    db.session.commit()
    submission.submit(
        db.session,
        invitation.id,
        "es",
        now=at,
        pages={
            "qolaf-q": answers_for_total(qolaf, 30),
            "ccis": dict(zip(CCIS_ITEMS, (0, 1, 1, 0, 0), strict=True)),
        },
    )


def by_timepoint(patient) -> dict[str, Invitation]:
    return {i.timepoint: i for i in invitations_of(patient) if i.status != "cancelled"}


def test_the_stored_follow_up_follows_every_change(site, clinician):
    patient, _ = patient_schedule.enrol(
        db.session,
        site,
        "FOLLOW-1",
        "+34612345678",
        "es",
        None,
        INDEX,
        ensure_default_schedule(db.session),
        ENROLLED,
        RULES,
    )
    db.session.commit()
    timepoints = by_timepoint(patient)
    assert list(timepoints) == ["baseline", "3 weeks", "3 months", "6 months", "12 months"]
    baseline, three_weeks = timepoints["baseline"], timepoints["3 weeks"]

    # Enrolled: baseline open now, next due; nothing overdue.
    summary = check(patient, clinician, ENROLLED)
    assert summary.next_due_at == baseline.opens_at and summary.overdue_since is not None
    # The clock passes: past the grace period overdue, past its closing the 3 weeks are due
    # (the list moves the stored step), and back again (a page asked about an earlier time).
    checked = 0
    for days in (6, 8, 13, 15, 30, 1, 40):
        check(patient, clinician, ENROLLED + timedelta(days=days))
        checked += 1
    assert checked == 7
    after_baseline = check(patient, clinician, baseline.expires_at)
    assert after_baseline.next_due_at == three_weeks.opens_at
    assert after_baseline.next_due_from == baseline.expires_at

    # The 3-week answers arrive: the missed baseline is no longer overdue; 3 months next.
    answer(three_weeks, three_weeks.opens_at + timedelta(days=1))
    summary = check(patient, clinician, three_weeks.opens_at + timedelta(days=2))
    assert summary.overdue_since == timepoints["3 months"].opens_at
    assert summary.next_due_at == timepoints["3 months"].opens_at

    # A coordinator cancels the 3-month invitation: 6 months is next.
    invitation_messages.cancel_invitation(db.session, timepoints["3 months"], "test", now=ENROLLED)
    db.session.commit()
    summary = check(patient, clinician, three_weeks.opens_at + timedelta(days=2))
    assert summary.next_due_at == timepoints["6 months"].opens_at

    # A new episode, earlier invitations cancelled: its own baseline is next.
    second = INDEX + timedelta(days=120)
    patient_schedule.start_episode(
        db.session,
        patient,
        index_date=second,
        schedule=ensure_default_schedule(db.session),
        label="repair",
        keep_earlier=False,
        now=datetime.combine(second, time(8), UTC),
        rules=RULES,
    )
    db.session.commit()
    new_baseline = min(
        (i for i in invitations_of(patient) if i.status == InvitationStatus.OPEN),
        key=lambda i: (i.opens_at, i.id),
    )
    summary = check(patient, clinician, datetime.combine(second, time(8), UTC))
    assert summary.next_due_at == new_baseline.opens_at

    # Withdrawn: nothing due, never overdue.
    patient_schedule.withdraw(db.session, patient)
    db.session.commit()
    summary = check(patient, clinician, datetime.combine(second, time(8), UTC) + timedelta(days=60))
    assert patient.status == PatientStatus.WITHDRAWN
    assert (summary.next_due_at, summary.overdue_since) == (None, None)


def test_sorting_by_next_due_and_the_overdue_filter_agree_with_the_definitions(
    site, make_patient, clinician
):
    """Several patients, each at another stage: the list's order by next due is the order of
    the Python definition, and the overdue filter finds exactly the overdue patients."""
    schedule = ensure_default_schedule(db.session)
    patients = []
    for number, weeks in enumerate((0, 2, 5, 9, 30)):
        patient, _ = patient_schedule.enrol(
            db.session,
            site,
            f"STAGE-{number}",
            "+34612345678",
            "es",
            None,
            INDEX - timedelta(weeks=weeks),
            schedule,
            ENROLLED,
            RULES,
        )
        patients.append(patient)
    db.session.commit()
    compared = 0
    for days in (0, 10, 25, 60, 200, 400):
        now = ENROLLED + timedelta(days=days)
        expected = {}
        for patient in patients:
            invitation = followup.next_invitation(invitations_of(patient), now)
            expected[patient.reference] = invitation.opens_at if invitation else None
        order = sorted(
            expected,
            key=lambda ref: (expected[ref] is None, expected[ref] or now, ref),
        )
        rows = page_of(clinician, now=now, sort="next_due").rows
        assert [row.reference for row in rows] == order
        assert [row.next_due for row in rows] == [expected[ref] for ref in order]
        descending = page_of(clinician, now=now, sort="-next_due").rows
        assert [row.reference for row in descending] == sorted(
            order, key=lambda ref: (expected[ref] is None, -(expected[ref] or now).timestamp())
        )
        overdue = {
            patient.reference
            for patient in patients
            if followup.overdue_invitation(patient, invitations_of(patient), now, GRACES[1])
        }
        found = {row.reference for row in page_of(clinician, now=now, overdue=True).rows}
        assert found == overdue
        compared += 1
    assert compared == 6


def test_the_next_due_sort_moves_stale_steps_only_when_some_are_stale(site, clinician):
    """Sorted by next due, a page is one statement while every stored step holds; once the
    clock has passed one's closing, the page moves the stale rows (one UPDATE) and reads
    again, and shows the next timepoint; after that it is one statement again."""
    patient, _ = patient_schedule.enrol(
        db.session,
        site,
        "FOLLOW-2",
        "+34612345678",
        "es",
        None,
        INDEX,
        ensure_default_schedule(db.session),
        ENROLLED,
        RULES,
    )
    db.session.commit()
    timepoints = by_timepoint(patient)
    baseline, three_weeks = timepoints["baseline"], timepoints["3 weeks"]
    assert clinician.site_ids  # loaded before counting, as for the signed-in user of a request

    def sorted_by_next_due(now):
        sent = []
        listener = lambda *args: sent.append(args[2].split(None, 1)[0].upper())  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            (row,) = page_of(clinician, now=now, sort="next_due").rows
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return row.next_due, sent

    # Stored at enrolment with the real clock: the first page at ENROLLED may move it.
    assert sorted_by_next_due(ENROLLED)[0] == baseline.opens_at
    assert sorted_by_next_due(ENROLLED) == (baseline.opens_at, ["SELECT"])
    closed = baseline.expires_at + timedelta(hours=1)
    assert sorted_by_next_due(closed) == (three_weeks.opens_at, ["SELECT", "UPDATE", "SELECT"])
    assert db.session.get(PatientSummary, patient.id).next_due_at == three_weeks.opens_at
    assert sorted_by_next_due(closed) == (three_weeks.opens_at, ["SELECT"])
