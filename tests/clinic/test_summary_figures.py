"""The summary's two forms agree: the figures a submit works out in Python from one read of
the patient's responses (`summary_figures`, through `refresh_summary`) and the set-based SQL
that refreshes many patients at once (`summaries.figures`), on random histories with answers
out of order, ties in their times, several episodes of care or none, the baseline timepoint
answered or not, provisional wordings and both questionnaires. On whichever database the
suite runs (SQLite and PostgreSQL in CI)."""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update

from survey.domain.summaries import figures, refresh_summary
from survey.domain.summary_figures import COLUMNS, StoredTotal, summary_figures
from survey.domain.triage.assessing import history_of_responses, patient_history
from survey.extensions import db
from survey.instruments import CCIS, QOLAF
from survey.models import Answer, ContactRequest, Episode, Invitation, PatientSummary, Response

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
TIMEPOINTS = ("screening", "baseline", "3 weeks", "3 months", "6 months")
STATUSES = ("validated", "provisional", "unvalidated translation")


def random_history(rng: random.Random, patient) -> None:
    """Episodes (none, or one to three), invitations in any of them (or in none: the first
    episode's), and responses whose times are few, so that they tie and arrive out of order."""
    if rng.random() < 0.2:
        db.session.execute(delete(Episode).where(Episode.patient_id == patient.id))
        episodes = [None]
    else:
        for number in range(2, rng.randint(1, 3) + 1):
            db.session.add(Episode(patient_id=patient.id, number=number))
        db.session.flush()
        episodes = [
            None,
            *db.session.scalars(select(Episode.id).where(Episode.patient_id == patient.id)),
        ]
    for _ in range(rng.randint(0, 7)):
        opens_at = START + timedelta(days=rng.randint(0, 5))
        invitation_id = db.session.scalar(
            insert(Invitation)
            .values(
                patient_id=patient.id,
                timepoint=rng.choice(TIMEPOINTS),
                episode_id=rng.choice(episodes),
                instrument_ids=[QOLAF, CCIS],
                opens_at=opens_at,
                expires_at=opens_at + timedelta(days=14),
                status="completed",
            )
            .returning(Invitation.id)
        )
        if rng.random() < 0.3:
            db.session.add(ContactRequest(invitation_id=invitation_id, patient_id=patient.id))
        for instrument_id in rng.sample([QOLAF, CCIS], rng.randint(1, 2)):
            response_id = db.session.scalar(
                insert(Response)
                .values(
                    invitation_id=invitation_id,
                    patient_id=patient.id,
                    instrument_id=instrument_id,
                    instrument_version="1",
                    wording_version="1",
                    wording_hash="0" * 64,
                    wording_status=rng.choice(STATUSES),
                    language="en",
                    total=rng.randint(14, 70) if instrument_id == QOLAF else rng.randint(0, 20),
                    subscales={},
                    submitted_at=START + timedelta(days=rng.randint(0, 4)),
                )
                .returning(Response.id)
            )
            if instrument_id == CCIS and rng.random() < 0.7:
                db.session.add(Answer(response_id=response_id, item_id="pad", position=4, value=2))
    db.session.flush()


def stored(patient_id: int) -> dict:
    db.session.expire_all()
    row = db.session.execute(
        select(*(PatientSummary.__table__.c[name] for name in COLUMNS)).where(
            PatientSummary.patient_id == patient_id
        )
    ).one()
    return dict(zip(COLUMNS, row, strict=True))


def by_sql(patient_id: int) -> dict:
    db.session.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id == patient_id)
        .values(**figures())
        .execution_options(synchronize_session=False)
    )
    return stored(patient_id)


def by_python(patient_id: int) -> dict:
    db.session.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id == patient_id)
        .values(dict.fromkeys(COLUMNS))
        .execution_options(synchronize_session=False)
    )
    refresh_summary(db.session, patient_id)
    return stored(patient_id)


def test_python_and_sql_give_the_same_summary_on_random_histories(site, make_patient):
    rng = random.Random(19)  # noqa: S311  (reproducible made-up data)
    compared, kinds = 0, set()
    for number in range(60):
        patient = make_patient(site, reference=f"RANDOM-{number}", phone=None)
        random_history(rng, patient)
        expected = by_sql(patient.id)
        assert by_python(patient.id) == expected, f"patient {number}"
        compared += 1
        kinds.update(name for name, value in expected.items() if value not in (None, False))
    db.session.commit()
    assert compared == 60
    # The histories reached every figure, so each was compared with something to compare.
    assert kinds == set(COLUMNS)


def test_ties_in_time_go_to_the_later_response_and_baseline_is_its_timepoint():
    at = START
    responses = [
        StoredTotal(3, CCIS, 4, at, "validated", "3 months", None),
        StoredTotal(1, CCIS, 10, at + timedelta(days=1), "provisional", "baseline", None),
        StoredTotal(2, CCIS, 6, at + timedelta(days=1), "validated", "6 months", None),
    ]
    found = summary_figures(responses, None, None)
    assert (found["ccis_latest"], found["ccis_previous"], found["ccis_baseline"]) == (6, 10, 10)
    assert (found["ccis_best"], found["ccis_change"], found["ccis_change_previous"]) == (4, -4, -4)
    assert found["ccis_previous_provisional"] and found["ccis_baseline_provisional"]
    assert found["ccis_single"] is False and found["qolaf_latest"] is None
    assert found["last_response_at"] == at + timedelta(days=1)


def test_only_the_current_episode_counts_and_no_episode_is_the_first():
    at = START
    responses = [
        StoredTotal(1, QOLAF, 51, at, "provisional", "baseline", None),  # the first episode's
        StoredTotal(2, QOLAF, 28, at + timedelta(days=90), "provisional", "3 months", 7),
    ]
    first = summary_figures(responses, 7, 7)
    assert (first["qolaf_baseline"], first["qolaf_latest"], first["qolaf_change"]) == (51, 28, -23)
    later = summary_figures(responses, 7, 9)  # a new episode with no answers yet
    assert later["qolaf_latest"] is None and later["qolaf_single"] is None
    assert later["last_response_at"] == at + timedelta(days=90)


def test_a_submits_triage_reads_the_same_history_from_the_summarys_rows(site, make_patient):
    """The submit hands triage the rows its summary read: each episode's history from them
    equals the one triage reads itself (`patient_history`), contact requests and the CCIS
    pad answer included."""
    rng = random.Random(23)  # noqa: S311  (reproducible made-up data)
    compared = 0
    for number in range(30):
        patient = make_patient(site, reference=f"HISTORY-{number}", phone=None)
        random_history(rng, patient)
        rows = refresh_summary(db.session, patient.id)
        episodes = {
            None,
            *db.session.scalars(select(Episode.id).where(Episode.patient_id == patient.id)),
        }
        for episode_id in episodes:
            expected = patient_history(db.session, patient.id, episode_id)
            assert history_of_responses(rows, episode_id) == expected
            compared += bool(expected)
    assert compared > 30
