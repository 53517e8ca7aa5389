"""The relapse story: 51/10 -> 28/0 -> 51/10 is no change against baseline, and a clinician
must still see it everywhere they read scores: the list, the Worsened filter, the patient page,
the summary, the flags and the exports."""

import re
from datetime import timedelta

from survey.clinic import flag_texts
from survey.clinic import flags as f
from survey.clinic.filters import ListFilters
from survey.clinic.listing import patient_page
from survey.clinic.results import patient_course
from survey.extensions import db
from survey.models import utcnow
from tests.clinic.test_exports import download, read_csv
from tests.clinic.test_pages import cells

MINUS = "\u2212"


def page_of(user, **filters):
    return patient_page(
        db.session,
        user,
        ListFilters(**filters),
        now=utcnow(),
        threshold=3,
        grace=timedelta(days=7),
        page_size=50,
    )


def row_text(html: str, reference: str) -> str:
    row = re.search(rf'<tr data-patient="{reference}">(.*?)</tr>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def test_the_course_shows_the_relapse_against_previous_and_best(relapse):
    course = patient_course(db.session, relapse)
    qolaf, ccis = course.instruments["qolaf-q"], course.instruments["ccis"]
    assert [r.total for r in qolaf.results] == [51, 28, 51]
    assert [r.total for r in ccis.results] == [10, 0, 10]
    latest_qolaf, latest_ccis = qolaf.latest_changes, ccis.latest_changes
    # Against baseline: nothing; against the previous answers (28/0) and the best (28/0): +23/+10.
    assert (latest_qolaf.baseline.delta, latest_ccis.baseline.delta) == (0, 0)
    assert (latest_qolaf.previous.delta, latest_ccis.previous.delta) == (23, 10)
    assert (latest_qolaf.best.delta, latest_ccis.best.delta) == (23, 10)
    assert latest_ccis.previous.verdict == "deteriorated"
    assert latest_qolaf.previous.band_move.to_band == "high"

    relapsed = course.timepoints[2]
    assert [flag.kind for flag in relapsed.flags] == [f.CCIS_WORSENED, f.BAND_WORSE]
    ccis_flag, band_flag = relapsed.flags
    # The previous answers are the best so far too: said once, as "the previous answers".
    assert (ccis_flag.references, ccis_flag.start, ccis_flag.end) == (("previous",), 0, 10)
    assert ccis_flag.extrapolated and ccis_flag.threshold == 3
    assert (band_flag.from_band, band_flag.to_band) == ("limited", "high")
    assert course.latest_flags == relapsed.flags


def test_the_flag_says_against_what_and_that_its_threshold_is_extrapolated(app, relapse):
    with app.test_request_context():
        ccis_flag = patient_course(db.session, relapse).latest_flags[0]
        assert flag_texts.describe(ccis_flag, "en") == (
            "CCIS worsened by 10 points against the previous answers (0 to 10), at least 3 "
            "points: the minimal important change for improvement, extrapolated to worsening."
        )


def test_the_list_shows_plus_23_and_plus_10_against_previous(relapse, clinician):
    (row,) = page_of(clinician).rows
    assert row.change("qolaf-q").delta == 0 and row.change("ccis").delta == 0
    assert row.change_previous("qolaf-q").delta == 23
    assert row.change_previous("ccis").delta == 10
    assert row.change_previous("ccis").verdict == "deteriorated"
    assert {c.reference for c in row.of("ccis").worsened} == {"previous", "best"}
    assert {c.reference for c in row.of("qolaf-q").worsened} == {"previous", "best"}


def test_worsened_matches_the_relapse_and_not_a_steady_recovery(relapse, published_case, clinician):
    assert [row.reference for row in page_of(clinician, worsened=True).rows] == ["CASE-RELAPSE"]


def test_worsened_matches_worsening_against_the_best_alone(site, make_patient, clinician):
    """10 -> 0 -> 2 -> 4: each step is under 3 points, but 4 is 4 worse than the best (0)."""
    patient = make_patient(site, reference="CREEPING", language="en", phone="+447911123458")
    history = [
        ("baseline", 0, 40, (2, 2, 2, 2, 2)),
        ("3 months", 91, 40, (0, 0, 0, 0, 0)),
        ("6 months", 182, 40, (1, 1, 0, 0, 0)),
        ("9 months", 273, 40, (1, 1, 1, 1, 0)),
    ]
    from tests.fixtures.clinic import add_history

    add_history(patient, history)
    (row,) = page_of(clinician, worsened=True).rows
    assert row.change_previous("ccis").delta == 2
    assert row.change_previous("ccis").verdict == "no meaningful change"
    assert [c.reference for c in row.of("ccis").worsened] == ["best"]
    assert row.of("ccis").change_best.delta == 4


def test_the_list_page_words_it_and_says_which(signed_in, relapse):
    html = signed_in.get("/clinic/?worsened=1").text
    text = row_text(html, "CASE-RELAPSE")
    assert "+23 (worse)" in text and "+10 (worse)" in text
    assert text.count("0 (no change)") == 2  # against baseline, both questionnaires
    assert "CCIS worse than the previous answers, the best so far" in text
    assert "QoLAF-Q worse than the previous answers, the best so far" in text
    assert "against the previous answers or the best so far" in html  # the filter's own hint


def test_the_list_sorts_by_change_from_previous(relapse, published_case, clinician):
    # CASE-51: 6 -> 2 -> 0, so -2 against previous; the relapse +10.
    assert [r.reference for r in page_of(clinician, sort="-ccis_change_previous").rows] == [
        "CASE-RELAPSE",
        "CASE-51",
    ]
    assert [r.reference for r in page_of(clinician, sort="qolaf_change_previous").rows] == [
        "CASE-51",  # 35 -> 28: -7
        "CASE-RELAPSE",
    ]
    assert [r.reference for r in page_of(clinician, sort="qolaf_change").rows] == [
        "CASE-51",  # -23
        "CASE-RELAPSE",  # 0
    ]


def test_the_patient_page_and_summary_show_it_at_the_top(signed_in, relapse):
    for url in (f"/clinic/patients/{relapse.id}", f"/clinic/patients/{relapse.id}/summary"):
        html = signed_in.get(url).text
        compare = cells(html, "baseline-latest")
        assert compare[0][3:] == [
            "Change from baseline",
            "Change from previous",
            "Change from best so far",
        ]
        qolaf, ccis = compare[1], compare[2]
        assert qolaf[3] == "0 (no change)" and ccis[3] == "0 (no change)"
        assert qolaf[4] == "+23 (worse) from 28 at 3 months"
        assert ccis[4].startswith("+10 (worse) * (threshold extrapolated) from 0")
        assert ccis[5].startswith("+10 (worse) * (threshold extrapolated) from 0")
        new = re.search(r'<section aria-labelledby="new-heading".*?</section>', html, re.S)
        assert 'data-kind="ccis-worsened" data-reference="previous"' in new.group(0)
        assert "extrapolated to worsening" in new.group(0)
        assert 'id="extrapolation-note"' in html


def test_the_totals_table_has_a_change_against_each(signed_in, relapse):
    html = signed_in.get(f"/clinic/patients/{relapse.id}").text
    ccis = cells(html, "table-ccis")
    assert [row[5:] for row in ccis[1:]] == [
        ["\u2014", "\u2014", "\u2014"],
        [f"{MINUS}10 (better)", f"{MINUS}10 (better)", f"{MINUS}10 (better)"],
        [
            "0 (no change)",
            "+10 (worse) * (threshold extrapolated)",
            "+10 (worse) * (threshold extrapolated)",
        ],
    ]


def test_the_exports_carry_each_change_and_verdict(signed_in, relapse):
    rows = read_csv(download(signed_in, "wide").text)
    six = next(r for r in rows if r["timepoint"] == "6 months")
    assert (six["ccis_change_from_baseline"], six["ccis_verdict_from_baseline"]) == (
        "0",
        "no meaningful change",
    )
    assert (six["ccis_change_from_previous"], six["ccis_verdict_from_previous"]) == (
        "10",
        "deteriorated",
    )
    assert (six["ccis_change_from_best"], six["ccis_verdict_from_best"]) == (
        "10",
        "deteriorated",
    )
    # No MIC is published for the QoLAF-Q: the change, and no verdict.
    assert (six["qolaf_q_change_from_previous"], six["qolaf_q_verdict_from_previous"]) == (
        "23",
        "",
    )
    baseline = next(r for r in rows if r["timepoint"] == "baseline")
    assert baseline["ccis_change_from_baseline"] == baseline["ccis_change_from_previous"] == ""

    long = read_csv(download(signed_in, "long").text)
    ccis_six = [r for r in long if r["timepoint"] == "6 months" and r["instrument_id"] == "ccis"]
    assert len(ccis_six) == 5
    assert {
        (r["total"], r["change_from_previous"], r["verdict_from_previous"]) for r in ccis_six
    } == {("10", "10", "deteriorated")}


def test_a_date_range_never_changes_a_change(signed_in, relapse):
    # Only the 6-month answers are in range: the earlier ones still count.
    rows = read_csv(download(signed_in, "long", **{"from": "2026-07-01"}).text)
    assert {r["timepoint"] for r in rows} == {"6 months"}
    assert {r["change_from_previous"] for r in rows if r["instrument_id"] == "qolaf-q"} == {"23"}


def test_the_clinics_setting_changes_the_verdicts_in_the_export(signed_in, relapse, app):
    app.config["CCIS_MEANINGFUL_CHANGE"] = 11
    rows = read_csv(download(signed_in, "wide").text)
    six = next(r for r in rows if r["timepoint"] == "6 months")
    assert six["ccis_verdict_from_previous"] == "no meaningful change"  # 10 < 11
