"""Benchmark data: `benchmark seed` writes patients whose figures the clinic pages show exactly as
they would after real submissions."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benchmarks.cli import benchmark
from survey.clinic.filters import ListFilters
from survey.clinic.listing import patient_page
from survey.clinic.results import patient_course
from survey.extensions import db
from survey.instruments import fingerprint, get_instrument, scoring
from survey.models import Answer, Invitation, InvitationStatus, Patient, Response, utcnow
from tests.test_cli import fails_cleanly


@pytest.fixture
def seeded(runner, site):
    result = runner.invoke(benchmark, args=["seed", "--patients", "40", "--site", site.name])
    assert result.exit_code == 0, result.output
    assert "Added 40 patients, 200 invitations, 392 responses and 3724 answers" in result.output
    return db.session.scalars(select(Patient).order_by(Patient.reference)).all()


def test_every_seeded_answer_is_scored_by_the_instrument(seeded):
    responses = db.session.scalars(select(Response)).all()
    assert responses
    for response in responses:
        instrument = get_instrument(response.instrument_id)
        answers = {answer.item_id: answer.value for answer in response.answers}
        score = scoring.score(instrument, answers)
        assert response.total == score.total
        assert response.band == (score.band.id if score.band else None)
        assert response.subscales == dict(score.subscales)
        assert response.wording_hash == fingerprint.wording_hash(instrument, response.language)
        assert response.invitation.status == InvitationStatus.COMPLETED
        assert response.invitation.completed_at == response.submitted_at


def test_the_list_shows_the_same_figures_as_each_patient_page(seeded, site, make_user):
    clinician = make_user("clinician", [site])
    now = utcnow()
    page = patient_page(
        db.session,
        clinician,
        ListFilters(),
        now=now,
        threshold=3,
        grace=timedelta(days=7),
        page_size=100,
    )
    assert [row.reference for row in page.rows] == [p.reference for p in seeded]
    for patient, row in zip(seeded, page.rows, strict=True):
        course = patient_course(db.session, patient, now=now)
        for instrument_id, prefix in (("qolaf-q", "qolaf"), ("ccis", "ccis")):
            expected = course.instruments[instrument_id]
            assert getattr(row, f"{prefix}_latest") == expected.latest.total
            assert getattr(row, f"{prefix}_baseline") == expected.baseline.total
            assert row.change(instrument_id) == expected.change
        assert row.next_due == course.next_due
        closes = course.next_invitation.expires_at if course.next_invitation else None
        assert row.next_closes == closes
        assert row.next_dates(now) == course.next_dates  # described in the same words
        assert row.overdue == (course.overdue is not None)


def test_one_patient_in_ten_has_the_last_timepoint_still_to_answer(seeded, site, make_user):
    clinician = make_user("clinician", [site])
    overdue = patient_page(
        db.session,
        clinician,
        ListFilters(overdue=True),
        now=utcnow(),
        threshold=3,
        grace=timedelta(days=7),
        page_size=100,
    )
    # Numbers 10 and 30 are past the grace period; 20 and 40 wait for the window to open.
    assert [row.reference for row in overdue.rows] == ["BENCH-0000010", "BENCH-0000030"]
    waiting = {p.reference: p for p in seeded}["BENCH-0000020"]
    still_open = db.session.scalar(
        select(Invitation).where(
            Invitation.patient_id == waiting.id, Invitation.status == InvitationStatus.OPEN
        )
    )
    assert still_open.timepoint == "12 months" and still_open.opens_at > utcnow()


def test_a_clinician_reads_seeded_figures_on_the_list_and_the_patient_page(
    seeded, site, make_user, staff, client
):
    clinician = make_user("clinician", [site])
    staff.login(clinician.email)
    first = seeded[0]
    course = patient_course(db.session, first)
    qolaf = course.instruments["qolaf-q"]

    listing = client.get("/clinic/")
    assert listing.status_code == 200
    row = re.search(rf'<tr data-patient="{first.reference}">(.*?)</tr>', listing.text, re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", row.group(1)).split())
    band = get_instrument("qolaf-q").band_for(qolaf.latest.total)
    assert f"{qolaf.latest.total} {band.label('en')}" in text

    page = client.get(f"/clinic/patients/{first.id}")
    assert page.status_code == 200
    chart = re.search(r'<svg[^>]*id="chart-qolaf-q".*?</svg>', page.text, re.S).group(0)
    totals = re.findall(r'<text class="value"[^>]*>(\d+)</text>', chart)
    stored = db.session.scalars(
        select(Response.total)
        .where(Response.patient_id == first.id, Response.instrument_id == "qolaf-q")
        .order_by(Response.submitted_at)
    ).all()
    assert [int(total) for total in totals] == stored and len(stored) == 5


def test_seeding_again_adds_new_references(runner, site, seeded):
    result = runner.invoke(benchmark, args=["seed", "--patients", "3", "--site", site.name])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Patient.id))) == 43
    assert db.session.scalar(select(func.max(Patient.reference))) == "BENCH-0000043"
    assert db.session.scalar(select(func.count()).select_from(Answer)) > 3724


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--patients", "0", "--site", "Almería Colorectal Unit"],
            "Invalid value for '--patients'",
        ),
        (["--patients", "many", "--site", "Almería Colorectal Unit"], "Invalid value"),
        (["--patients", "5", "--site", "Nowhere"], "no site called 'Nowhere'"),
        (
            ["--patients", "5", "--site", "Almería Colorectal Unit", "--prefix", ""],
            "The prefix must be 1 to 40",
        ),
    ],
)
def test_bad_input_fails_with_one_line(runner, site, args, message):
    fails_cleanly(runner.invoke(benchmark, args=["seed", *args]), message)


def test_the_migration_backfills_summaries_as_submissions_keep_them(seeded):
    """The upgrade that added summaries fills them with what storing answers would have."""
    import importlib

    from sqlalchemy import text, update

    from survey.models import PatientSummary

    migration = importlib.import_module("survey.migrations.versions.e5b0c2d41a7f_patient_summaries")
    kept = {s.patient_id: _figures_of(s) for s in db.session.scalars(select(PatientSummary))}
    assert sum(figures[0] is not None for figures in kept.values()) == 40
    db.session.execute(
        update(PatientSummary).values(qolaf_latest=None, ccis_change=None, last_response_at=None)
    )
    db.session.execute(text(migration.BACKFILL))
    db.session.expire_all()
    backfilled = {s.patient_id: _figures_of(s) for s in db.session.scalars(select(PatientSummary))}
    assert backfilled == kept


def _figures_of(summary) -> tuple:
    return (
        summary.qolaf_latest,
        summary.qolaf_baseline,
        summary.ccis_latest,
        summary.ccis_baseline,
        summary.ccis_change,
        summary.qolaf_single,
        summary.ccis_single,
        summary.last_response_at,
    )
