"""Change against baseline, previous and best, judged by the minimal important change.

Every expected figure here is worked out by hand from the totals in the test."""

import dataclasses

import pytest

from survey.instruments import DefinitionError, MinimalImportantChange, load_definition
from survey.instruments.change import (
    BandMove,
    Direction,
    Reference,
    Verdict,
    band_move,
    compare,
    compare_latest,
    compare_series,
    verdict,
)


@pytest.fixture
def mirrored(qolaf_definition):
    """A QoLAF-Q whose declared direction is turned round: here a higher total is better."""
    qolaf_definition["higher_is_worse"] = False
    qolaf_definition["minimal_important_change"] = {
        "improvement": 5,
        "deterioration": 7,
        "deterioration_extrapolated": False,
        "citation": "A made-up source for a test.",
    }
    return load_definition(qolaf_definition)


def test_the_shipped_ccis_declares_the_bols_mic_with_worsening_marked_as_extrapolated(ccis):
    mic = ccis.minimal_important_change
    assert (mic.improvement, mic.deterioration) == (3, 3)
    assert mic.deterioration_extrapolated is True
    assert "Bols EM" in mic.citation and "doi:10.1007/s00192-012-1886-9" in mic.citation
    assert "Int Urogynecol J 2013;24(3):469-78" in mic.citation
    assert ccis.higher_is_worse is True


def test_the_shipped_qolaf_declares_its_direction_and_that_no_mic_is_published(qolaf):
    assert qolaf.higher_is_worse is True
    assert qolaf.minimal_important_change is None


def test_the_published_case_reads_better_on_both_instruments(qolaf, ccis):
    """Arslan et al. 2026: QoLAF-Q 51 (high) -> 28 (limited); CCIS 10 -> 0."""
    qol = compare_latest(qolaf, [51, 28])
    assert qol.baseline.delta == -23
    assert qol.baseline.direction == Direction.BETTER
    assert qol.baseline.verdict is None  # no published MIC for the QoLAF-Q
    assert qol.baseline.band_move == BandMove("high", "limited", -2)
    assert qol.baseline.band_better and not qol.baseline.worsened

    continence = compare_latest(ccis, [10, 0])
    assert continence.baseline.delta == -10
    assert continence.baseline.verdict == Verdict.IMPROVED
    assert continence.baseline.threshold == 3
    assert continence.baseline.extrapolated is False  # the MIC for improvement is published
    assert continence.baseline.band_move is None  # the CCIS has no bands


def test_a_relapse_is_seen_against_previous_and_best_though_baseline_shows_no_change(qolaf, ccis):
    """51/10 -> 28/0 -> 51/10: back where the patient started, after getting much better."""
    qol = compare_latest(qolaf, [51, 28, 51])
    assert (qol.baseline.delta, qol.previous.delta, qol.best.delta) == (0, 23, 23)
    assert qol.baseline.direction == Direction.SAME and not qol.baseline.worsened
    assert qol.previous.band_move == BandMove("limited", "high", 2)
    assert qol.previous.worsened and qol.best.worsened
    assert qol.best.start == 28 and qol.best.start_index == 1

    continence = compare_latest(ccis, [10, 0, 10])
    assert continence.baseline.verdict == Verdict.NO_MEANINGFUL_CHANGE
    assert continence.previous.verdict == Verdict.DETERIORATED
    assert continence.best.verdict == Verdict.DETERIORATED
    assert continence.previous.delta == continence.best.delta == 10
    assert continence.previous.extrapolated is True  # Bols published improvement only
    assert continence.worsened_since_previous_or_best == (continence.previous, continence.best)


def test_every_point_of_a_series_gets_its_own_comparisons(ccis):
    # totals:      5   8   2   4   1   1
    # vs baseline: -  +3  -3  -1  -4  -4
    # vs previous: -  +3  -6  +2  -3   0
    # best before: -   5   5   2   2   1 (ties keep the first)
    # vs best:     -  +3  -3  +2  -1   0
    points = compare_series(ccis, [5, 8, 2, 4, 1, 1])
    assert len(points) == 6
    assert [p.baseline and p.baseline.delta for p in points] == [None, 3, -3, -1, -4, -4]
    assert [p.previous and p.previous.delta for p in points] == [None, 3, -6, 2, -3, 0]
    assert [p.best and p.best.start for p in points] == [None, 5, 5, 2, 2, 1]
    assert [p.best and p.best.start_index for p in points] == [None, 0, 0, 2, 2, 4]
    assert [p.best and p.best.delta for p in points] == [None, 3, -3, 2, -1, 0]
    assert [p.previous and str(p.previous.verdict) for p in points] == [
        None,
        "deteriorated",
        "improved",
        "no meaningful change",
        "improved",
        "no meaningful change",
    ]
    assert [p.index for p in points] == list(range(6))


def test_a_baseline_that_is_not_the_first_answer_is_compared_from_wherever_it_is(ccis):
    points = compare_series(ccis, [4, 9, 6], baseline=1)
    assert points[1].baseline is None
    assert points[0].baseline.delta == -5 and points[0].baseline.start == 9
    assert points[2].baseline.delta == -3 and points[2].baseline.verdict == Verdict.IMPROVED
    assert compare_series(ccis, [4, 9], baseline=None)[1].baseline is None
    with pytest.raises(IndexError, match="baseline 2 is not a place in a series of 2"):
        compare_series(ccis, [4, 9], baseline=2)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (0, Verdict.NO_MEANINGFUL_CHANGE),
        (-1, Verdict.NO_MEANINGFUL_CHANGE),
        (-2, Verdict.NO_MEANINGFUL_CHANGE),
        (-3, Verdict.IMPROVED),
        (-20, Verdict.IMPROVED),
        (2, Verdict.NO_MEANINGFUL_CHANGE),
        (3, Verdict.DETERIORATED),
        (20, Verdict.DETERIORATED),
    ],
)
def test_a_change_counts_as_meaningful_from_the_mic_upwards(ccis, delta, expected):
    assert verdict(delta, True, ccis.minimal_important_change) == expected


def test_a_clinic_setting_for_the_mic_changes_the_threshold_but_keeps_the_source(ccis):
    two = ccis.minimal_important_change.with_points(2)
    assert (two.improvement, two.deterioration, two.citation) == (
        2,
        2,
        ccis.minimal_important_change.citation,
    )
    assert compare(ccis, 4, 2, Reference.PREVIOUS, mic=two).verdict == Verdict.IMPROVED
    assert (
        compare(ccis, 4, 2, Reference.PREVIOUS).verdict == Verdict.NO_MEANINGFUL_CHANGE
    )  # the declared 3 points
    unjudged = compare(ccis, 4, 12, "previous", mic=None)
    assert unjudged.verdict is None and unjudged.direction == Direction.WORSE
    assert not unjudged.worsened  # no MIC and no bands: nothing to call meaningful


def test_the_declared_direction_decides_better_worse_best_and_band_order(mirrored):
    """Everything turns round when an instrument declares that a higher total is better."""
    points = compare_series(mirrored, [30, 60, 50])
    up, down = points[1].previous, points[2].previous
    assert up.direction == Direction.BETTER and up.verdict == Verdict.IMPROVED
    assert up.threshold == 5
    assert down.direction == Direction.WORSE and down.verdict == Verdict.DETERIORATED
    assert down.threshold == 7 and down.extrapolated is False
    # Best before the third total is the highest (60), not the lowest.
    assert points[2].best.start == 60 and points[2].best.delta == -10
    # Bands of totals 30 (moderate) -> 60 (very high) rank as a move to a better band here.
    assert up.band_move == BandMove("moderate", "very-high", -2)
    assert down.band_move == BandMove("very-high", "high", 1)  # 60 -> 50: a worse band here
    assert mirrored.band_rank("very-high") == 0 and mirrored.band_rank("none") == 4
    assert mirrored.best_of([30, 60, 50]) == 60
    assert mirrored.is_worse(30, than=60)


def test_band_moves_are_counted_in_bands_best_first(qolaf):
    assert [band.id for band in qolaf.bands_best_first] == [
        "none",
        "limited",
        "moderate",
        "high",
        "very-high",
    ]
    assert band_move(qolaf, 14, 70) == BandMove("none", "very-high", 4)
    assert band_move(qolaf, 42, 43).direction == Direction.WORSE
    assert band_move(qolaf, 43, 56).direction == Direction.SAME
    assert qolaf.band_rank(None) is None and qolaf.band_rank("unknown") is None


def test_no_totals_have_no_latest_and_one_total_has_nothing_to_compare(ccis):
    assert compare_latest(ccis, []) is None
    only = compare_latest(ccis, [7])
    assert only.comparisons == () and only.worsened_since_previous_or_best == ()
    assert only.against("previous") is None


def test_against_names_each_reference(ccis):
    latest = compare_latest(ccis, [6, 2, 9])
    assert [latest.against(reference).start for reference in Reference] == [6, 2, 2]
    assert [c.reference for c in latest.comparisons] == ["baseline", "previous", "best"]
    with pytest.raises(ValueError):
        latest.against("worst")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"improvement": 0}, r"minimal_important_change.improvement: 0 is not between 1 and 20"),
        ({"deterioration": 21}, r"deterioration: 21 is not between 1 and 20"),
        ({"deterioration": 2.5}, r"deterioration: must be a whole number"),
        ({"deterioration_extrapolated": "yes"}, r"deterioration_extrapolated: must be true"),
        ({"citation": " "}, r"minimal_important_change.citation: must be non-empty text"),
        ({"source": "x"}, r"minimal_important_change: unknown field 'source'"),
    ],
)
def test_a_broken_mic_is_refused_with_the_field_at_fault(ccis_definition, change, message):
    ccis_definition["minimal_important_change"].update(change)
    with pytest.raises(DefinitionError, match=message):
        load_definition(ccis_definition)


def test_a_definition_without_a_mic_field_reads_as_none(ccis_definition):
    del ccis_definition["minimal_important_change"]
    assert load_definition(ccis_definition).minimal_important_change is None


def test_the_mic_is_frozen_data(ccis):
    with pytest.raises(dataclasses.FrozenInstanceError):
        ccis.minimal_important_change.improvement = 1
    assert isinstance(ccis.minimal_important_change, MinimalImportantChange)
