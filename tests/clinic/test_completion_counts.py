"""The kept completion counts equal the figures worked out from the invitations themselves
(`scanned_figures`) after a random history of everything that changes them: enrolments on
the default schedule, the dispatcher's sends, texts claimed and found not to have gone (the
dispatcher's Core steps), reminders, links opened, answers in every way, tablet codes,
cancellations, windows moved across midnight, languages changed, new episodes of care and
withdrawals, at moments on both sides of every opening and closing, a step a transaction or
several (some in savepoints rolled back); and rebuilding them from nothing changes nothing."""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from survey.domain import completion_counts
from survey.domain.analytics import completion_figures, scanned_figures
from survey.domain.invitations import create_invitation
from survey.extensions import db
from survey.models import (
    AnswerDuration,
    CompletionCount,
    Invitation,
    InvitationStatus,
    Message,
    MessageStatus,
    Patient,
    PatientStatus,
    ResponseMode,
)
from survey.outreach import invitation_messages, patient_schedule
from survey.outreach.message_status import move
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.clinic.analytics_data import answered, handed_to_tablet, same_figures
from tests.fixtures.outreach import RULES, console, dispatch, settings  # noqa: F401 (fixtures)

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def kept_state():
    counts = {
        (c.site_id, c.figure, c.key, c.opens_on, c.closes_on): (
            c.invitations,
            c.texted,
            c.opened,
            c.completed,
        )
        for c in db.session.scalars(select(CompletionCount))
        if (c.invitations, c.texted, c.opened, c.completed) != (0, 0, 0, 0)
    }
    durations = {
        d.invitation_id: (d.site_id, d.seconds, d.opens_at)
        for d in db.session.scalars(select(AnswerDuration))
    }
    return counts, durations


def differences(kept, scanned) -> dict:
    return {
        name: (getattr(kept, name), getattr(scanned, name))
        for name in kept.__dataclass_fields__
        if getattr(kept, name) != getattr(scanned, name)
    }


def moments(clock: datetime, rng) -> list[datetime]:
    """The clock, and moments drawn from just before, at and after every invitation's opening
    and closing and the midnights around them (where a day's invitations move from one by one
    to the kept counts)."""
    found = {clock}
    for opens_at, expires_at in db.session.execute(
        select(Invitation.opens_at, Invitation.expires_at)
    ):
        for moment in (opens_at, expires_at):
            midnight = datetime.combine(moment.date(), datetime.min.time(), UTC)
            for m in (moment, midnight, midnight + timedelta(days=1)):
                found.update((m - MICRO, m, m + MICRO))
    return [clock, *rng.sample(sorted(found), min(len(found), 24))]


def check(sites, clock: datetime, rng) -> None:
    site_sets = [[sites[0].id], [sites[1].id], [s.id for s in sites]]
    for now in moments(clock, rng):
        for site_ids in site_sets:
            kept = completion_figures(db.session, site_ids, now)
            scanned = scanned_figures(db.session, site_ids, now)
            assert same_figures(kept, scanned), (now, site_ids, differences(kept, scanned))
    before = kept_state()
    completion_counts.rebuild(db.session)
    assert kept_state() == before
    db.session.rollback()


def mostly_due(rng, found: list, due: list):
    """One of `found`, four times in five one of those in `due` (when there are any)."""
    found = due if due and rng.random() < 0.8 else found
    return rng.choice(found) if found else None


def open_invitation(rng, clock):
    """An open invitation, mostly one whose window has opened."""
    found = db.session.scalars(
        select(Invitation).where(Invitation.status == InvitationStatus.OPEN).order_by(Invitation.id)
    ).all()
    return mostly_due(
        rng, found, [invitation for invitation in found if invitation.opens_at <= clock]
    )


def pending_message(rng, clock):
    """A message not sent yet, mostly one already due."""
    found = db.session.scalars(
        select(Message).where(Message.status == MessageStatus.PENDING).order_by(Message.id)
    ).all()
    return mostly_due(rng, found, [message for message in found if message.due_at <= clock])


@pytest.mark.parametrize(
    ("seed", "steps_a_transaction"),
    [(1, 1), (2, 1), (3, 1), (4, 1), (5, 3), (7, 3), (8, 3), (9, 3)],
)
def test_the_kept_counts_equal_the_scan_after_a_random_history(
    site,
    other_site,
    make_user,
    console,  # noqa: F811 (the fixture imported above)
    dispatch,  # noqa: F811 (the fixture imported above)
    seed,
    steps_a_transaction,
):
    """Several steps a transaction: the facts' UPDATE returns an invitation's row to its
    recount at commit, and a later step of the transaction (a flush changing the invitation
    or its patient, a text sent in a savepoint rolled back) must not leave it to count as
    that row said."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible history, not a secret)
    sites = [site, other_site]
    coordinator = make_user("coordinator", sites)
    schedule = ensure_default_schedule(db.session)
    clock = START
    patients, handed = [], set()
    for n in range(5):
        patient, _changes = patient_schedule.enrol(
            db.session,
            rng.choice(sites),
            f"R-{n}",
            "+34612345678",
            rng.choice(["es", "en", "tr"]),
            None,
            (clock + timedelta(days=rng.randint(-20, 5))).date(),
            schedule,
            clock,
            RULES,
        )
        patients.append(patient)
    db.session.commit()

    def send(kind_of_step):
        message = pending_message(rng, clock)
        if message is None:
            return
        move(db.session, MessageStatus.SENDING, where=Message.id == message.id, at=clock)
        if kind_of_step == "not gone":  # claimed, then found not to have gone
            move(db.session, MessageStatus.FAILED, where=Message.id == message.id, at=clock)

    def answer():
        if (invitation := open_invitation(rng, clock)) is not None:
            answered(invitation, rng.choice(list(ResponseMode)))
            invitation.completed_at = clock + timedelta(minutes=rng.randint(0, 3000))

    def open_link():
        if (invitation := open_invitation(rng, clock)) is not None:
            invitation.started_at = clock

    def tablet():
        invitation = open_invitation(rng, clock)
        if invitation is not None and invitation.id not in handed:
            handed.add(invitation.id)  # the helper's code is the invitation's id
            handed_to_tablet(invitation, coordinator, opened=rng.random() < 0.7)

    def cancel():
        if (invitation := open_invitation(rng, clock)) is not None:
            invitation_messages.cancel_invitation(db.session, invitation, "test", now=clock)

    def move_window():
        if (invitation := open_invitation(rng, clock)) is not None:
            shift = timedelta(hours=rng.randint(-40, 40))
            invitation.opens_at += shift
            invitation.expires_at += shift + timedelta(hours=rng.randint(-30, 30))

    def rolled_back():
        """A text claimed in a savepoint rolled back: its facts' UPDATE is undone with it."""
        savepoint = db.session.begin_nested()
        send("gone")
        savepoint.rollback()

    def language():
        rng.choice(patients).language = rng.choice(["es", "en", "tr"])

    def by_hand():
        opens = clock + timedelta(hours=rng.randint(-300, 48))
        create_invitation(db.session, rng.choice(patients), "extra", opens_at=opens)

    def episode():
        patient = rng.choice(patients)
        if patient.status != PatientStatus.WITHDRAWN:
            patient_schedule.start_episode(
                db.session,
                patient,
                index_date=(clock + timedelta(days=rng.randint(0, 30))).date(),
                schedule=schedule,
                label=None,
                keep_earlier=rng.random() < 0.5,
                now=clock,
                rules=RULES,
            )

    def withdraw():
        patient = rng.choice(patients)
        if patient.status != PatientStatus.WITHDRAWN:
            patient_schedule.withdraw(db.session, patient)

    actions = [
        lambda: dispatch(console, at=clock),
        lambda: send("gone"),
        lambda: send("gone"),
        lambda: send("not gone"),
        answer,
        answer,
        open_link,
        tablet,
        cancel,
        move_window,
        move_window,
        language,
        by_hand,
        episode,
        withdraw,
    ]
    if steps_a_transaction > 1:
        actions.append(rolled_back)
    for step in range(36):
        clock += timedelta(hours=rng.randint(1, 90))
        rng.choice(actions)()
        if step % steps_a_transaction == steps_a_transaction - 1 or step % 18 == 17:
            db.session.commit()
        if step % 18 == 17:
            check(sites, clock, rng)
    # The history reached what it is meant to: texts, answers, some timed.
    figures = scanned_figures(db.session, [s.id for s in sites], clock)
    print(seed, figures.totals, figures.completions_timed, figures.patients_missing_two)
    assert figures.totals.texted and figures.totals.completed and figures.completions_timed


def test_two_transactions_recounting_one_invitation_take_turns(app, site, make_patient):
    """PostgreSQL: one transaction completes an invitation while another changes its
    patient's language; the second waits for the first's lock on the invitation and counts
    from what the first stored, so the counts still equal a rebuild."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: nothing to take turns over.")
    patient = make_patient(site, "TURNS-1", language="es")
    invitation = create_invitation(db.session, patient, "baseline", opens_at=START)
    db.session.commit()
    patient_id, invitation_id = patient.id, invitation.id
    db.session.rollback()  # the test's own session holds nothing while the two take turns
    Session = sessionmaker(bind=db.engine)  # noqa: N806
    first, second = Session(), Session()
    try:
        theirs = first.get(Invitation, invitation_id)
        theirs.status = InvitationStatus.COMPLETED
        theirs.completed_at = START + timedelta(hours=1)
        first.flush()  # counted as completed, the invitation locked until the commit

        errors = []

        def change_language():
            try:
                app.app_context().push()  # as a request in another worker has its own
                second.get(Patient, patient_id).language = "en"
                second.commit()
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        waiting = threading.Thread(target=change_language)
        waiting.start()
        waiting.join(timeout=1)
        assert not errors, errors
        assert waiting.is_alive()  # waiting for the invitation's lock
        first.commit()
        waiting.join(timeout=30)
        assert not waiting.is_alive() and not errors, errors
    finally:
        first.close()
        second.close()
    db.session.expire_all()
    before = kept_state()
    completion_counts.rebuild(db.session)
    assert kept_state() == before
    figures = completion_figures(db.session, [site.id], START + timedelta(days=30))
    assert by_key(figures.breakdowns["language"]) == {"en": (1, 1)}


def by_key(tallies):
    return {tally.key: (tally.invitations, tally.completed) for tally in tallies}


def test_answers_to_invitations_of_one_day_do_not_wait_for_each_other(app, site, make_patient):
    """PostgreSQL: two patients answer invitations that opened the same day, so their
    counts are the same rows. Each transaction moves its counts only as it commits, so the
    second does not wait for the first's whole transaction (a submit goes on to triage and
    the patient's summary), only, at most, for its commit."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: nothing to wait for.")
    ids = []
    for n in (1, 2):
        patient = make_patient(site, f"SAME-DAY-{n}")
        invitation = create_invitation(db.session, patient, "baseline", opens_at=START)
        db.session.flush()
        ids.append(invitation.id)
    db.session.commit()
    db.session.rollback()  # the test's own session holds nothing
    Session = sessionmaker(bind=db.engine)  # noqa: N806
    first, second = Session(), Session()
    errors = []
    try:
        for session, invitation_id in ((first, ids[0]), (second, ids[1])):
            invitation = session.get(Invitation, invitation_id)
            invitation.status = InvitationStatus.COMPLETED
            invitation.completed_at = START + timedelta(hours=1)

        def answer_second():
            try:
                app.app_context().push()
                second.flush()
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        first.flush()
        answering = threading.Thread(target=answer_second)
        answering.start()
        answering.join(timeout=5)
        assert not answering.is_alive() and not errors, errors  # not waiting for `first`
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    figures = completion_figures(db.session, [site.id], START + timedelta(days=30))
    assert (figures.totals.invitations, figures.totals.completed) == (2, 2)
    before = kept_state()
    completion_counts.rebuild(db.session)
    assert kept_state() == before
