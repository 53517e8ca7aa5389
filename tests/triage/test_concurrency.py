"""At the same moment, on PostgreSQL: four submits of one invitation make one item; four
assessments of one timepoint make one item; four taps on "please contact me" make one request;
two clinicians taking one item leave it with one of them."""

import threading

from sqlalchemy import func, select

from survey.domain import submission
from survey.domain.triage.assessing import assess_invitation
from survey.domain.triage.contact import request_contact
from survey.domain.triage.worklist import WorklistConflict, item_for, take
from survey.extensions import db
from survey.models import AuditEvent, ContactRequest, Invitation, TriageItem, User, utcnow
from tests.fixtures.patients import CCIS_10, QOLAF_51
from tests.fixtures.triage import RELAPSE, items_of, submit_history, submit_timepoint


def at_once(app, work, count: int = 4) -> tuple[list, list]:
    """Run `work()` in `count` threads released together, each with its own session."""
    start, results, errors = threading.Barrier(count), [], []

    def run() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(work())
            except Exception as error:  # noqa: BLE001 (each failure is reported)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def item_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(TriageItem))


def test_submits_at_the_same_moment_make_one_item(app, needs_postgresql, site, make_patient):
    from survey.domain.invitations import create_invitation

    patient = make_patient(site, reference="TAPS")
    invitation = create_invitation(db.session, patient, "baseline")
    db.session.commit()
    invitation_id = invitation.id
    submission.save_answers(db.session, invitation_id, "qolaf-q", QOLAF_51)
    submission.save_answers(db.session, invitation_id, "ccis", CCIS_10)
    results, errors = at_once(
        app, lambda: submission.submit(db.session, invitation_id, "es").first_time
    )
    assert errors == [] and sorted(results) == [False, False, False, True]
    assert item_count() == 1


def test_assessments_at_the_same_moment_make_one_item(app, needs_postgresql, site, make_patient):
    patient = make_patient(site, reference="RACE")
    invitation_id = submit_timepoint(patient, "baseline", 40, (1, 1, 1, 1, 1)).id
    # Take the item away, so that every thread finds none and tries to add it.
    db.session.execute(TriageItem.__table__.delete())
    db.session.commit()

    def assess():
        item = assess_invitation(db.session, db.session.get(Invitation, invitation_id), utcnow())
        db.session.commit()
        return item.id

    results, errors = at_once(app, assess)
    assert errors == [] and len(set(results)) == 1
    assert item_count() == 1
    db.session.expire_all()
    assessed = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "triage.assessed")
    )
    assert assessed == 2  # one at submit, one by the winner of the race: never a duplicate item


def test_taps_on_please_contact_me_at_the_same_moment_make_one_request(
    app, needs_postgresql, site, make_patient
):
    patient = make_patient(site, reference="ASKS")
    latest_id = submit_history(patient, RELAPSE[:2])[-1].id  # read here: threads share no object
    results, errors = at_once(
        app, lambda: request_contact(db.session, latest_id, "llámenme", utcnow()).first_time
    )
    assert errors == [] and sorted(results) == [False, False, False, True]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ContactRequest)) == 1
    item = items_of(patient)[-1]
    assert [f["rule"] for f in item.findings].count("contact-request") == 1


def test_two_clinicians_taking_one_item_leave_it_with_one(
    app, needs_postgresql, site, make_patient, make_user
):
    patient = make_patient(site, reference="TAKEN")
    submit_history(patient, RELAPSE)
    item_id = items_of(patient)[-1].id
    users = [make_user("clinician", [site]) for _ in range(2)]
    ids = iter([user.id for user in users])  # read here: threads share no object
    lock = threading.Lock()

    def take_it():
        with lock:
            user_id = next(ids)
        user = db.session.get(User, user_id)
        item = item_for(db.session, user, item_id, lock=True)
        try:
            take(db.session, item, user, None, utcnow())
        except WorklistConflict:
            db.session.rollback()
            return None
        return user_id

    results, errors = at_once(app, take_it, count=2)
    assert errors == []
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    db.session.expire_all()
    assert db.session.get(TriageItem, item_id).assignee_id == winners[0]
