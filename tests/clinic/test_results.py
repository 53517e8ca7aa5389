"""A patient's course: every figure on the patient page, checked against hand-computed values."""

from datetime import UTC, datetime, timedelta

import pytest

from survey.clinic import flag_texts
from survey.clinic import flags as f
from survey.clinic.results import change_text, patient_course
from survey.extensions import db
from survey.instruments import get_instrument
from survey.instruments.change import compare
from tests.fixtures.clinic import INDEX_DATE, add_history


def kinds(flags):
    return [flag.kind for flag in flags]


def test_the_published_case_reads_51_high_to_28_limited_and_ccis_10_to_0(published_case):
    course = patient_course(db.session, published_case)
    qolaf, ccis = course.instruments["qolaf-q"], course.instruments["ccis"]

    assert [r.total for r in qolaf.results] == [51, 44, 35, 28]
    assert [r.band_id for r in qolaf.results] == ["high", "high", "moderate", "limited"]
    assert (qolaf.baseline.total, qolaf.latest.total) == (51, 28)
    assert qolaf.change.delta == 28 - 51 == -23
    assert qolaf.change.direction == "better"

    # CCIS items at baseline: solid 1, liquid 3, gas 3, pad 2, lifestyle 1 = 10.
    assert [r.total for r in ccis.results] == [10, 6, 2, 0]
    assert ccis.baseline.answer("pad") == 2
    assert (ccis.baseline.total, ccis.latest.total, ccis.change.delta) == (10, 0, -10)
    assert ccis.latest.timepoint == "6 months"


def test_days_count_from_the_index_date_in_the_patients_time_zone(published_case):
    course = patient_course(db.session, published_case)
    # Answers arrive a day after the invitation opens at 09:00 UTC (10:00 in Madrid in winter).
    assert [t.day for t in course.timepoints] == [-6, 22, 92, 183]
    assert course.origin == INDEX_DATE and course.origin_is_index_date


def test_a_late_evening_answer_counts_on_the_patients_own_calendar_day(site, make_patient):
    patient = make_patient(site, reference="LATE")
    # Opens 22:00 UTC; submitted a day and 3 hours later: 01:00 UTC = 02:00 in Madrid.
    add_history(patient, [("baseline", 0, 40, (0, 0, 0, 0, 0))], hour=22)
    course = patient_course(db.session, patient)
    assert course.instruments["ccis"].baseline.day == 2


def test_each_timepoint_of_the_published_case_raises_only_what_is_new(published_case):
    course = patient_course(db.session, published_case)
    by_label = {t.label: kinds(t.flags) for t in course.timepoints}
    # CCIS 10 -> 6 is the first change of 3 or more: flagged at 3 weeks, and not again at
    # 3 months (2) or 6 months (0), which stay improved.
    # QoLAF-Q crosses bands high -> moderate (35) at 3 months, moderate -> limited (28) at 6.
    assert by_label == {
        "baseline": [],
        "3 weeks": [f.CCIS_IMPROVED],
        "3 months": [f.BAND_BETTER],
        "6 months": [f.BAND_BETTER],
    }
    assert course.latest_timepoint.label == "6 months"
    assert kinds(course.latest_flags) == [f.BAND_BETTER]
    (latest,) = course.latest_flags
    assert (latest.from_band, latest.to_band, latest.start, latest.end) == (
        "moderate",
        "limited",
        35,
        28,
    )
    assert kinds(course.earlier_flags) == [f.CCIS_IMPROVED, f.BAND_BETTER]


def test_quality_of_life_better_but_continence_worse_is_flagged(worsened_continence):
    course = patient_course(db.session, worsened_continence)
    qolaf, ccis = course.instruments["qolaf-q"], course.instruments["ccis"]
    # CCIS 0+1+1+1+0 = 3 at baseline; 1+2+2+2+1 = 8 at six months: +5, at least 3.
    assert (ccis.baseline.total, ccis.latest.total, ccis.change.delta) == (3, 8, 5)
    assert ccis.change.direction == "worse"
    assert (qolaf.baseline.total, qolaf.latest.total, qolaf.change.delta) == (45, 30, -15)
    by_label = {t.label: kinds(t.flags) for t in course.timepoints}
    assert by_label == {
        "baseline": [],
        "3 months": [f.BAND_BETTER],  # 45 high -> 33 moderate; CCIS +1 is not meaningful
        "6 months": [f.CCIS_WORSENED, f.QOL_BETTER_CONTINENCE_WORSE],
    }
    pattern = course.latest_flags[1]
    assert (pattern.start, pattern.end, pattern.threshold) == (3, 8, 3)


def test_a_missed_timepoint_is_on_the_timeline_without_breaking_the_figures(missed_timepoint):
    course = patient_course(db.session, missed_timepoint)
    assert [(t.label, t.status) for t in course.timepoints] == [
        ("baseline", "completed"),
        ("3 weeks", "missed"),
        ("3 months", "completed"),
    ]
    missed = course.timepoints[1]
    assert missed.results == {} and missed.flags == []
    assert missed.day == 21  # the day it opened
    qolaf, ccis = course.instruments["qolaf-q"], course.instruments["ccis"]
    assert (qolaf.baseline.total, qolaf.latest.total, qolaf.change.delta) == (38, 30, -8)
    assert (ccis.baseline.total, ccis.latest.total, ccis.change.delta) == (5, 4, -1)
    assert course.flags == []  # 38 and 30 are both moderate; CCIS moved 1 point
    # A later timepoint was answered, so the missed one does not make the patient overdue.
    assert course.overdue is None


def test_the_meaningful_change_threshold_comes_from_the_setting(missed_timepoint):
    course = patient_course(db.session, missed_timepoint, threshold=1)
    assert kinds(course.flags) == [f.CCIS_IMPROVED]


def test_without_a_baseline_timepoint_the_earliest_answers_are_the_baseline(site, make_patient):
    patient = make_patient(site, reference="NO-BASELINE")
    add_history(
        patient, [("2 weeks", 14, 50, (2, 2, 2, 2, 2)), ("3 months", 91, 40, (1, 1, 1, 1, 1))]
    )
    ccis = patient_course(db.session, patient).instruments["ccis"]
    assert (ccis.baseline.timepoint, ccis.baseline.total, ccis.change.delta) == ("2 weeks", 10, -5)


def test_the_timepoint_called_baseline_wins_even_if_answered_later(site, make_patient):
    patient = make_patient(site, reference="LATE-BASELINE")
    # A pre-operative visit answered first, then the baseline questionnaire a day later.
    add_history(
        patient,
        [
            ("screening", -10, 60, (4, 4, 4, 4, 4)),
            ("baseline", -9, 50, (2, 2, 2, 2, 2)),
            ("3 months", 91, 40, (1, 1, 1, 1, 1)),
        ],
    )
    course = patient_course(db.session, patient)
    assert course.instruments["ccis"].baseline.timepoint == "baseline"
    assert course.instruments["ccis"].change.delta == 5 - 10


def test_one_answered_timepoint_has_no_change_and_no_flags(site, make_patient):
    patient = make_patient(site, reference="ONLY-ONE")
    add_history(patient, [("baseline", 0, 51, (1, 3, 3, 2, 1))])
    course = patient_course(db.session, patient)
    assert course.instruments["qolaf-q"].change is None
    assert course.flags == [] and course.latest_flags == []
    assert course.latest_timepoint.label == "baseline"


def test_no_answers_at_all(site, make_patient):
    patient = make_patient(site, reference="NOTHING", index_date=None)
    course = patient_course(db.session, patient)
    assert course.timepoints == [] and course.latest_timepoint is None
    assert course.origin is None
    assert all(c.baseline is None and c.change is None for c in course.instruments.values())


def test_without_an_index_date_days_count_from_the_first_answers(site, make_patient):
    patient = make_patient(site, reference="NO-INDEX", index_date=None)
    add_history(
        patient,
        [("baseline", 0, 40, (0, 0, 0, 0, 0)), ("3 months", 91, 30, (0, 0, 0, 0, 0))],
        index_date=INDEX_DATE,
    )
    course = patient_course(db.session, patient)
    assert not course.origin_is_index_date
    assert [t.day for t in course.timepoints] == [0, 91]


def test_a_flag_returns_only_after_the_condition_has_lapsed(site, make_patient):
    patient = make_patient(site, reference="UP-DOWN")
    add_history(
        patient,
        [
            ("baseline", 0, 40, (2, 2, 2, 2, 2)),  # CCIS 10
            ("1 month", 30, 40, (1, 1, 1, 1, 2)),  # 6: improved by 4 -> flag
            ("2 months", 60, 40, (1, 1, 1, 1, 1)),  # 5: still improved -> nothing new
            ("3 months", 90, 40, (2, 2, 2, 2, 1)),  # 9: within 3 of baseline, but +4 on 5
            ("6 months", 180, 40, (1, 1, 1, 1, 1)),  # 5: improved on baseline again -> new
            ("9 months", 270, 40, (3, 3, 3, 2, 2)),  # 13: +8 on previous, best and +3 baseline
        ],
    )
    course = patient_course(db.session, patient)
    flagged = [(t.label, kinds(t.flags)) for t in course.timepoints if t.flags]
    assert flagged == [
        ("1 month", [f.CCIS_IMPROVED]),
        ("3 months", [f.CCIS_WORSENED]),
        ("6 months", [f.CCIS_IMPROVED]),
        ("9 months", [f.CCIS_WORSENED]),
    ]
    relapse = course.timepoints[3].flags[0]
    # 5 -> 9 against the previous answers, which are also the best so far: named once.
    assert (relapse.references, relapse.start, relapse.end) == (("previous",), 5, 9)
    assert relapse.extrapolated
    last = course.timepoints[5].flags[0]
    # 5 -> 13 against the previous answers (5, also the best so far) and baseline (10).
    assert (last.references, last.start, last.end) == (("previous", "baseline"), 5, 13)


def test_a_partly_answered_timepoint(site, make_patient):
    patient = make_patient(site, reference="PARTIAL")
    add_history(patient, [("baseline", 0, 40, None)])
    (timepoint,) = patient_course(db.session, patient).timepoints
    assert timepoint.status == "partial"
    assert list(timepoint.results) == ["qolaf-q"]


@pytest.mark.parametrize(
    "instrument_id, start, end, text",
    [
        ("qolaf-q", 51, 28, "\u221223 (better)"),  # no published MIC: direction only
        ("qolaf-q", 28, 51, "+23 (worse)"),
        ("ccis", 10, 0, "\u221210 (better)"),
        ("ccis", 3, 8, "+5 (worse)"),
        ("ccis", 10, 10, "0 (no change)"),
        ("ccis", 5, 4, "\u22121 (no meaningful change)"),  # below the 3-point MIC
        ("ccis", 4, 6, "+2 (no meaningful change)"),
        ("ccis", 6, 3, "\u22123 (better)"),  # exactly the MIC counts
    ],
)
def test_changes_are_worded_not_just_signed(app, instrument_id, start, end, text):
    with app.test_request_context():
        assert change_text(compare(get_instrument(instrument_id), start, end, "baseline")) == text


def test_every_flag_has_a_sentence_and_a_source(app, published_case, worsened_continence):
    with app.test_request_context():
        for patient in (published_case, worsened_continence):
            for flag in patient_course(db.session, patient).flags:
                assert flag_texts.describe(flag, "en")
                assert flag_texts.citation(flag)
        course = patient_course(db.session, worsened_continence)
        assert "Bols EM, et al. Int Urogynecol J 2013;24(3):469-78" in flag_texts.citation(
            course.latest_flags[0]
        )
        band_flag = course.timepoints[1].flags[0]
        assert flag_texts.describe(band_flag, "en") == (
            "QoLAF-Q moved to a better band than the previous answers: High impact (45) to "
            "Moderate impact (33)."
        )
        assert flag_texts.citation(band_flag) == "Ferrer-Márquez M, et al. Cir Esp 2018;96:213-20."


def test_next_due_is_the_earliest_open_invitation(site, make_patient):
    patient = make_patient(site, reference="DUE")
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    add_history(
        patient,
        [
            ("baseline", 0, 40, (0, 0, 0, 0, 0)),
            ("3 months", 91, None, None),
            ("6 months", 182, None, None),
        ],
    )
    course = patient_course(db.session, patient, now=now)
    assert course.next_due == datetime(2026, 4, 16, 9, tzinfo=UTC)  # 15 Jan + 91 days
    later = patient_course(db.session, patient, now=course.next_due + timedelta(days=8))
    assert later.overdue.timepoint == "3 months"
