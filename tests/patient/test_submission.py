"""The rules behind the pages, called without a request: when an invitation takes answers,
how drafts are kept, and why a submit can never store a second response."""

import contextlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from survey.domain import submission, summaries
from survey.domain.responses import store_response
from survey.domain.submission import Incomplete, InvitationClosed, InvitationState
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import DraftAnswer, InvitationStatus, PatientSummary, Response, utcnow
from tests.fixtures.patients import CCIS_10, QOLAF_51, refreshed

NOW = utcnow()


@pytest.mark.parametrize(
    "status, opens_in, expires_in, state",
    [
        ("open", -1, 1, InvitationState.OPEN),
        ("open", 1, 2, InvitationState.NOT_YET_OPEN),
        ("open", -2, -1, InvitationState.EXPIRED),
        ("open", -2, 0, InvitationState.EXPIRED),  # expiry is exclusive
        ("cancelled", -1, 1, InvitationState.CANCELLED),
        ("cancelled", -2, -1, InvitationState.CANCELLED),
        ("completed", -2, -1, InvitationState.COMPLETED),  # answered in time, read later
    ],
)
def test_what_a_link_allows_depends_on_status_and_window(
    enrolled, invite, status, opens_in, expires_in, state
):
    invitation = invite(enrolled).invitation
    invitation.status = InvitationStatus(status)
    invitation.opens_at = NOW + timedelta(days=opens_in)
    invitation.expires_at = NOW + timedelta(days=expires_in)
    assert submission.state_of(invitation, NOW) == state


def test_saving_again_overwrites_an_answer_instead_of_adding_one(enrolled, invite):
    invitation = invite(enrolled).invitation
    submission.save_answers(db.session, invitation.id, "qolaf-q", {"q1": 1, "q2": 2})
    submission.save_answers(db.session, invitation.id, "qolaf-q", {"q1": 5})
    assert submission.saved_answers(db.session, refreshed(invitation)) == {
        "qolaf-q": {"q1": 5, "q2": 2}
    }
    assert db.session.scalar(select(func.count()).select_from(DraftAnswer)) == 2


@pytest.mark.parametrize("state", ["expired", "cancelled", "completed", "not yet open"])
def test_nothing_is_saved_into_an_invitation_that_does_not_take_answers(enrolled, invite, state):
    invitation = invite(enrolled, state).invitation
    with pytest.raises(InvitationClosed) as closed:
        submission.save_answers(db.session, invitation.id, "qolaf-q", {"q1": 1})
    assert closed.value.state == InvitationState(state)
    assert db.session.scalar(select(DraftAnswer)) is None


@pytest.mark.parametrize(
    "saved, step, missing",
    [
        ({}, 1, 14),
        ({"qolaf-q": QOLAF_51}, 2, 5),
        ({"qolaf-q": {"q1": 1}, "ccis": CCIS_10}, 1, 13),
    ],
)
def test_a_submit_with_unanswered_items_names_the_first_unfinished_page_and_stores_nothing(
    enrolled, invite, saved, step, missing
):
    invitation = invite(enrolled).invitation
    for instrument_id, answers in saved.items():
        submission.save_answers(db.session, invitation.id, instrument_id, answers)
    with pytest.raises(Incomplete) as incomplete:
        submission.submit(db.session, invitation.id, "es")
    assert (incomplete.value.step, len(incomplete.value.missing)) == (step, missing)
    assert db.session.scalar(select(Response)) is None
    assert refreshed(invitation).status == InvitationStatus.OPEN


def test_the_resume_page_is_the_first_unfinished_questionnaire_else_the_last():
    instruments = [get_instrument("qolaf-q"), get_instrument("ccis")]
    assert submission.resume_step(instruments, {}) == 1
    assert submission.resume_step(instruments, {"qolaf-q": {"q1": 3}}) == 1
    assert submission.resume_step(instruments, {"qolaf-q": QOLAF_51}) == 2
    assert submission.resume_step(instruments, {"qolaf-q": QOLAF_51, "ccis": CCIS_10}) == 2


def fill(invitation) -> None:
    submission.save_answers(db.session, invitation.id, "qolaf-q", QOLAF_51)
    submission.save_answers(db.session, invitation.id, "ccis", CCIS_10)


def test_a_submit_stores_every_questionnaire_closes_the_invitation_and_clears_drafts(
    enrolled, invite
):
    invitation = invite(enrolled).invitation
    fill(invitation)
    result = submission.submit(db.session, invitation.id, "tr", now=NOW)
    assert result.first_time
    assert [(r.instrument_id, r.total, r.language) for r in result.responses] == [
        ("qolaf-q", 51, "tr"),
        ("ccis", 10, "tr"),
    ]
    invitation = refreshed(invitation)
    assert (invitation.status, invitation.completed_at) == (InvitationStatus.COMPLETED, NOW)
    assert db.session.scalar(select(DraftAnswer)) is None


def test_the_page_sent_with_an_incomplete_submit_is_kept_as_drafts(enrolled, invite):
    invitation = invite(enrolled).invitation
    submission.save_answers(db.session, invitation.id, "qolaf-q", {"q1": 1})
    submission.save_answers(db.session, invitation.id, "ccis", {"solid": 4})
    with pytest.raises(Incomplete) as incomplete:
        submission.submit(db.session, invitation.id, "es", last_page=("ccis", CCIS_10))
    assert incomplete.value.step == 1
    db.session.rollback()
    saved = submission.saved_answers(db.session, refreshed(invitation))
    assert saved == {"qolaf-q": {"q1": 1}, "ccis": CCIS_10}
    assert db.session.scalar(select(Response)) is None


def test_a_complete_submit_reads_its_history_once_and_writes_no_drafts(enrolled, invite):
    """The last page is scored with the saved answers, not written as drafts first (they
    are deleted with the submit); the patient's responses are read once, for the summary
    and triage alike, and the site's triage settings with the invitation's lock."""
    invitation = invite(enrolled).invitation
    submission.save_answers(db.session, invitation.id, "qolaf-q", QOLAF_51)
    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        result = submission.submit(db.session, invitation.id, "es", last_page=("ccis", CCIS_10))
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert [(r.instrument_id, r.total) for r in result.responses] == [("qolaf-q", 51), ("ccis", 10)]
    assert not [s for s in sent if s.startswith("INSERT INTO draft_answers")]
    assert len([s for s in sent if s.startswith("SELECT responses.")]) == 1
    assert not [s for s in sent if s.startswith("SELECT contact_requests.")]
    # The site's triage settings came with the lock.
    assert not [s for s in sent if s.startswith("SELECT triage_settings.")]
    assert db.session.scalar(select(DraftAnswer)) is None


def test_submitting_a_completed_invitation_again_returns_the_stored_responses(enrolled, invite):
    invitation = invite(enrolled).invitation
    fill(invitation)
    first = submission.submit(db.session, invitation.id, "es")
    again = submission.submit(db.session, invitation.id, "en")
    assert not again.first_time
    assert [r.id for r in again.responses] == [r.id for r in first.responses]
    assert {r.language for r in again.responses} == {"es"}


@pytest.mark.parametrize("state", ["expired", "cancelled"])
def test_a_closed_invitation_cannot_be_submitted(enrolled, invite, state):
    invitation = invite(enrolled).invitation
    fill(invitation)
    invitation = refreshed(invitation)
    if state == "expired":
        invitation.expires_at = utcnow()
    else:
        invitation.status = InvitationStatus.CANCELLED
    db.session.commit()
    with pytest.raises(InvitationClosed):
        submission.submit(db.session, invitation.id, "es")
    assert db.session.scalar(select(Response)) is None
    # The drafts stay: a coordinator who reopens the invitation loses nothing.
    assert db.session.scalar(select(func.count()).select_from(DraftAnswer)) == 19


def test_a_submit_that_loses_a_race_returns_the_winners_responses(enrolled, invite):
    invitation = invite(enrolled).invitation
    fill(invitation)
    # The other request's response is stored but, as far as this one can see, the
    # invitation is still open (what happens where row locks are not enforced).
    store_response(db.session, refreshed(invitation), get_instrument("qolaf-q"), QOLAF_51, "es")
    db.session.commit()
    result = submission.submit(db.session, invitation.id, "es")
    assert not result.first_time
    assert [r.instrument_id for r in result.responses] == ["qolaf-q"]
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1


def test_two_submits_at_the_same_moment_store_one_set_of_responses(app, enrolled, invite):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL's row locks (SQLite serialises them)")
    invitation_id = invite(enrolled).invitation.id
    submission.save_answers(db.session, invitation_id, "qolaf-q", QOLAF_51)
    submission.save_answers(db.session, invitation_id, "ccis", CCIS_10)
    start, results, errors = threading.Barrier(4), [], []

    def tap() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(submission.submit(db.session, invitation_id, "es").first_time)
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 2


def test_two_timepoints_sent_at_once_both_count_in_the_summary(
    app, needs_postgresql, enrolled, invite, monkeypatch
):
    """Each submit locks the patient's summary row with its invitation and reads the
    responses after the lock: the second sees the first's answers (READ COMMITTED), so the
    summary counts both, whichever commits first. Each submit waits (up to 2 s) for the
    other before working its figures out: without the lock both would, each having read
    only its own answers."""
    invitations = [invite(enrolled).invitation.id for _ in range(2)]
    for invitation_id in invitations:
        submission.save_answers(db.session, invitation_id, "qolaf-q", QOLAF_51)
        submission.save_answers(db.session, invitation_id, "ccis", CCIS_10)
    start, errors = threading.Barrier(2), []
    meet, work_out = threading.Barrier(2, timeout=2), summaries.summary_figures

    def after_meeting(*args):
        # Broken after 2 s when the other submit waits for this one's lock, as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return work_out(*args)

    monkeypatch.setattr(summaries, "summary_figures", after_meeting)

    def send(invitation_id: int, seconds: int) -> None:
        # In two languages: the same wording shown, kept once, would make them take turns.
        language = ("es", "en")[seconds]
        with app.app_context():
            start.wait()
            try:
                submission.submit(
                    db.session, invitation_id, language, now=utcnow() + timedelta(seconds=seconds)
                )
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=send, args=(invitation_id, seconds))
        for seconds, invitation_id in enumerate(invitations)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    db.session.expire_all()
    summary = db.session.get(PatientSummary, enrolled.id)
    assert (summary.qolaf_latest, summary.qolaf_previous, summary.ccis_previous) == (51, 51, 10)
    assert summary.ccis_single is False and summary.ccis_change_previous == 0
