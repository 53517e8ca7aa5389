"""A completed questionnaire gets a total, a band, subscale sums and the cut-offs it reaches."""

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.instruments import AnswersError, get_instrument, scoring

from .builders import answers_totalling

QOLAF = get_instrument("qolaf-q")
CCIS = get_instrument("ccis")


def test_every_ccis_answer_combination_scores_to_its_sum(ccis):
    item_ids = [item.id for item in ccis.items]
    wrong = []
    combinations = list(itertools.product(range(5), repeat=5))
    for values in combinations:
        score = scoring.score(ccis, dict(zip(item_ids, values, strict=True)))
        if (score.total, score.band, score.subscales) != (sum(values), None, {}):
            wrong.append((values, score))
    assert len(combinations) == 5**5 == 3125
    assert wrong == []


@pytest.mark.parametrize(
    ("total", "band_id"),
    [
        (14, "none"),
        (15, "limited"),
        (28, "limited"),
        (29, "moderate"),
        (42, "moderate"),
        (43, "high"),
        (56, "high"),
        (57, "very-high"),
        (70, "very-high"),
    ],
)
def test_a_qolaf_total_on_a_band_boundary_gets_the_published_band(qolaf, total, band_id):
    answers = answers_totalling(qolaf, total)
    assert sum(answers.values()) == total

    score = scoring.score(qolaf, answers)

    assert score.total == total
    assert score.band.id == band_id


@pytest.mark.parametrize(
    ("instrument_id", "total", "band_id"),
    [
        # Arslan et al., Cureus 2026: before exosome therapy, and six months after.
        ("qolaf-q", 51, "high"),
        ("qolaf-q", 28, "limited"),
        ("ccis", 10, None),
        ("ccis", 0, None),
    ],
)
def test_the_published_case_scores_as_reported(instrument_id, total, band_id):
    instrument = get_instrument(instrument_id)

    score = scoring.score(instrument, answers_totalling(instrument, total))

    assert score.total == total
    assert (score.band.id if score.band else None) == band_id


def test_the_published_case_ccis_of_10_reaches_the_commonly_cited_severe_cut_off(ccis):
    assert [c.id for c in scoring.score(ccis, answers_totalling(ccis, 10)).cutoffs] == ["severe"]
    assert scoring.score(ccis, answers_totalling(ccis, 0)).cutoffs == ()


@pytest.mark.parametrize(
    ("total", "reached"), [(0, []), (8, []), (9, ["severe"]), (20, ["severe"])]
)
def test_ccis_cut_offs_are_reached_from_their_threshold_up(ccis, total, reached):
    assert [c.id for c in scoring.score(ccis, answers_totalling(ccis, total)).cutoffs] == reached


qolaf_answers = st.lists(st.integers(1, 5), min_size=14, max_size=14).map(
    lambda values: {f"q{n}": value for n, value in enumerate(values, start=1)}
)


@given(qolaf_answers)
def test_a_qolaf_total_is_the_sum_of_the_answers(answers):
    assert scoring.score(QOLAF, answers).total == sum(answers.values())


@given(qolaf_answers)
def test_a_qolaf_total_gets_the_one_band_that_contains_it(answers):
    score = scoring.score(QOLAF, answers)

    containing = [band for band in QOLAF.bands if band.min <= score.total <= band.max]

    assert containing == [score.band]


@given(qolaf_answers)
def test_qolaf_subscale_sums_add_up_to_the_total(answers):
    score = scoring.score(QOLAF, answers)

    assert set(score.subscales) == {"physical", "psychosocial"}
    assert sum(score.subscales.values()) == score.total
    for subscale in QOLAF.subscales:
        assert score.subscales[subscale.id] == sum(answers[i] for i in subscale.item_ids)


@given(qolaf_answers)
def test_answers_posted_from_a_form_as_digit_strings_score_the_same(answers):
    posted = {item_id: str(value) for item_id, value in answers.items()}

    assert scoring.score(QOLAF, posted) == scoring.score(QOLAF, answers)


@given(st.lists(st.integers(0, 4), min_size=5, max_size=5))
def test_a_ccis_score_has_no_band_and_no_subscales(values):
    score = scoring.score(
        CCIS, dict(zip(["solid", "liquid", "gas", "pad", "lifestyle"], values, strict=True))
    )

    assert score.band is None
    assert score.subscales == {}


def test_a_questionnaire_with_an_unanswered_item_gets_no_score(qolaf):
    answers = answers_totalling(qolaf, 30)
    del answers["q9"]

    with pytest.raises(AnswersError) as refused:
        scoring.score(qolaf, answers)

    assert refused.value.missing == ("q9",)


def test_a_score_cannot_be_changed_after_it_is_computed(qolaf):
    score = scoring.score(qolaf, answers_totalling(qolaf, 30))

    with pytest.raises(dataclasses.FrozenInstanceError):
        score.total = 31


@pytest.mark.parametrize(
    ("instrument_id", "total"), [("qolaf-q", 13), ("qolaf-q", 71), ("ccis", -1)]
)
def test_asking_for_the_band_of_an_impossible_total_is_an_error(instrument_id, total):
    with pytest.raises(ValueError, match="totals run from"):
        get_instrument(instrument_id).band_for(total)


def test_totals_run_between_the_lowest_and_highest_answers(qolaf, ccis):
    assert (qolaf.min_total, qolaf.max_total, qolaf.higher_is_worse) == (14, 70, True)
    assert (ccis.min_total, ccis.max_total, ccis.higher_is_worse) == (0, 20, True)
