"""Episodes of care in the clinic: results grouped by episode, with baseline, previous and
best read within each; the list's figures from the current episode; the export's column."""

from datetime import UTC, datetime, time, timedelta

import pytest
from babel.dates import format_date

from survey.clinic import exports
from survey.clinic.exports import ExportScope
from survey.clinic.results import patient_course
from survey.domain.triage.assessing import patient_history
from survey.extensions import db
from survey.models import PatientSummary
from survey.outreach.patient_schedule import start_episode
from survey.outreach.policy import SendingRules
from tests.fixtures.clinic import INDEX_DATE, add_history

# A seton (QoLAF-Q 51 -> 28), then a definitive repair 200 days later (45 -> 30).
SETON = [("baseline", -7, 51, (1, 3, 3, 2, 1)), ("3 months", 91, 28, (0, 0, 0, 0, 0))]
REPAIR = [("baseline", -3, 45, (0, 1, 1, 1, 0)), ("3 months", 91, 30, (0, 0, 0, 0, 0))]
SECOND = INDEX_DATE + timedelta(days=200)


def medium(day) -> str:
    """A date as English pages write it (Flask-Babel's "medium" format)."""
    return format_date(day, "medium", locale="en")


def new_episode(patient, label="repair"):
    start_episode(
        db.session,
        patient,
        index_date=SECOND,
        schedule=None,
        label=label,
        keep_earlier=True,
        now=datetime.combine(SECOND - timedelta(days=5), time(9), UTC),
        rules=SendingRules(),
    )
    db.session.commit()


@pytest.fixture
def staged(site, make_patient):
    patient = make_patient(site, reference="STAGED")
    add_history(patient, SETON)
    new_episode(patient)
    add_history(patient, REPAIR, index_date=SECOND)
    return patient


def test_each_episode_has_its_own_baseline_previous_and_best(staged):
    course = patient_course(db.session, staged)
    assert [e.number for e in course.episodes] == [1, 2]
    first, current = course.episodes
    seton = first.instruments["qolaf-q"]
    assert (seton.baseline.total, seton.latest.total, seton.change.delta) == (51, 28, -23)
    qolaf = course.instruments["qolaf-q"]  # the top of the page: the current episode
    assert qolaf is current.instruments["qolaf-q"]
    assert [r.total for r in qolaf.results] == [45, 30]
    assert (qolaf.baseline.total, qolaf.change.delta) == (45, -15)
    # Previous and best are the repair's own baseline, never the seton's 28.
    assert qolaf.latest_changes.previous.start == qolaf.latest_changes.best.start == 45
    assert course.instruments["ccis"].baseline.total == 3


def test_days_count_from_each_episodes_own_index_date(staged):
    course = patient_course(db.session, staged)
    first, current = course.episodes
    assert (first.origin, current.origin, course.origin) == (INDEX_DATE, SECOND, SECOND)
    assert [t.day for t in first.timepoints] == [-6, 92]
    assert [t.day for t in current.timepoints] == [-2, 92]
    assert course.earlier_episodes == [first] and current.label == "repair"


def test_the_list_shows_the_current_episodes_figures(staged):
    summary = db.session.get(PatientSummary, staged.id)
    assert (summary.qolaf_baseline, summary.qolaf_latest) == (45, 30)
    assert (summary.qolaf_previous, summary.qolaf_best, summary.qolaf_change) == (45, 45, -15)
    assert (summary.ccis_baseline, summary.ccis_latest) == (3, 0)


def test_a_new_episode_empties_the_lists_figures_until_its_first_answers(site, make_patient):
    patient = make_patient(site, reference="FRESH")
    add_history(patient, SETON)
    assert db.session.get(PatientSummary, patient.id).qolaf_latest == 28
    new_episode(patient, label=None)
    db.session.expire_all()
    summary = db.session.get(PatientSummary, patient.id)
    assert (summary.qolaf_latest, summary.qolaf_baseline, summary.ccis_latest) == (None,) * 3


def test_the_patient_page_groups_results_by_episode(client, staff, clinician, staged):
    staff.login(clinician.email)
    page = client.get(f"/clinic/patients/{staged.id}")
    assert page.status_code == 200
    text = page.text
    assert "Earlier episodes of care" in text
    assert f"Episode 2 (Definitive repair), index date {medium(SECOND)}" in text
    assert f"Episode 1, index date {medium(INDEX_DATE)}" in text
    assert 'id="baseline-latest-episode-1"' in text and 'id="timeline-episode-1"' in text
    assert 'id="items-episode-1-qolaf-q-1"' in text


def test_a_patient_with_one_episode_sees_no_episode_sections(
    client, staff, clinician, site, make_patient
):
    patient = make_patient(site, reference="SINGLE")
    add_history(patient, SETON)
    staff.login(clinician.email)
    text = client.get(f"/clinic/patients/{patient.id}").text
    assert 'id="baseline-latest"' in text and "Earlier episodes of care" not in text


def test_the_export_numbers_episodes_and_reads_changes_within_them(staged):
    scope = ExportScope((staged.site_id,), None, None)
    names = [column.name for column in exports.long_columns()]
    assert names[-1] == "episode" and names[:3] == ["patient_reference", "site", "index_date"]
    rows = [dict(zip(names, row, strict=True)) for row in exports.long_rows(db.session, scope)]
    qolaf = {}
    for row in rows:
        if row["instrument_id"] == "qolaf-q":
            qolaf[row["response_id"]] = row
    by_order = sorted(qolaf.values(), key=lambda row: row["submitted_at"])
    assert [r["episode"] for r in by_order] == [1, 1, 2, 2]
    assert [r["index_date"] for r in by_order] == [INDEX_DATE, INDEX_DATE, SECOND, SECOND]
    assert [r["days_since_index"] for r in by_order] == [-6, 92, -2, 92]
    assert [r["change_from_baseline"] for r in by_order] == [None, -23, None, -15]
    wide_names = [column.name for column in exports.wide_columns()]
    wide = list(exports.wide_rows(db.session, scope, datetime.now(UTC)))
    assert wide_names[-1] == "episode" and [row[-1] for row in wide] == [1, 1, 2, 2]


def test_triage_reads_the_history_of_the_answered_episode(staged):
    current = staged.current_episode
    assert len(patient_history(db.session, staged.id)) == 4
    assert len(patient_history(db.session, staged.id, current.id)) == 2
