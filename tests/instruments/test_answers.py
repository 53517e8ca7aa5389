"""Answers that cannot be scored are refused, and the refusal says exactly what is wrong."""

import pytest

from survey.instruments import AnswersError
from survey.instruments.answers import validate_answers

from .builders import answers_totalling


def test_form_posts_of_digit_strings_become_ints_in_item_order(qolaf):
    posted = {f"q{n}": "3" for n in range(14, 0, -1)}

    clean = validate_answers(qolaf, posted)

    assert clean == {f"q{n}": 3 for n in range(1, 15)}
    assert list(clean) == [item.id for item in qolaf.items]


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        2.5,
        3.0,
        "2.5",
        "3.0",
        "",
        " 3",
        "3 ",
        "+3",
        "-1",
        "٣",  # ARABIC-INDIC DIGIT THREE: str.isdigit() would accept it
        None,
        [3],
        0,
        6,
        "6",
        -1,
        10**30,
    ],
    ids=repr,
)
def test_an_answer_that_is_not_one_of_the_scale_values_is_refused(qolaf, value):
    answers = answers_totalling(qolaf, 30) | {"q1": value}

    with pytest.raises(AnswersError) as refused:
        validate_answers(qolaf, answers)

    assert refused.value.invalid == {"q1": value}
    assert refused.value.missing == ()
    assert refused.value.unknown == ()
    assert str(refused.value) == (
        f"qolaf-q answers cannot be scored: invalid answers q1={value!r} "
        "(each must be a whole number 1-5)"
    )


@pytest.mark.parametrize("value", [True, "5", 5, " 0", "4.0"], ids=repr)
def test_ccis_refuses_values_outside_0_to_4_and_non_integers(ccis, value):
    answers = answers_totalling(ccis, 3) | {"pad": value}

    with pytest.raises(AnswersError) as refused:
        validate_answers(ccis, answers)

    assert refused.value.invalid == {"pad": value}
    assert "(each must be a whole number 0-4)" in str(refused.value)


def test_ccis_accepts_zero_given_as_an_int_or_a_digit_string(ccis):
    assert validate_answers(
        ccis, {"solid": 0, "liquid": "0", "gas": 1, "pad": "4", "lifestyle": 4}
    ) == {
        "solid": 0,
        "liquid": 0,
        "gas": 1,
        "pad": 4,
        "lifestyle": 4,
    }


def test_unanswered_items_are_named_in_questionnaire_order(qolaf):
    answers = answers_totalling(qolaf, 30)
    del answers["q14"], answers["q5"]

    with pytest.raises(AnswersError) as refused:
        validate_answers(qolaf, answers)

    assert refused.value.missing == ("q5", "q14")
    assert str(refused.value) == "qolaf-q answers cannot be scored: missing answers for q5, q14"


def test_an_empty_questionnaire_is_missing_every_item(ccis):
    with pytest.raises(AnswersError) as refused:
        validate_answers(ccis, {})

    assert refused.value.missing == ("solid", "liquid", "gas", "pad", "lifestyle")


def test_an_answer_to_a_question_the_instrument_does_not_have_is_refused(qolaf):
    answers = answers_totalling(qolaf, 30) | {"q15": 3}

    with pytest.raises(AnswersError) as refused:
        validate_answers(qolaf, answers)

    assert refused.value.unknown == ("q15",)
    assert refused.value.missing == ()
    assert "answers for items not in the questionnaire: 'q15'" in str(refused.value)


def test_answers_for_another_instrument_are_refused_as_unknown_and_missing(ccis, qolaf):
    with pytest.raises(AnswersError) as refused:
        validate_answers(ccis, answers_totalling(qolaf, 20))

    assert refused.value.unknown == tuple(f"q{n}" for n in range(1, 15))
    assert refused.value.missing == ("solid", "liquid", "gas", "pad", "lifestyle")


def test_every_problem_is_reported_at_once_on_one_line(qolaf):
    answers = answers_totalling(qolaf, 30) | {"q2": "2.5", "q3": None, "extra": 1}
    del answers["q7"]

    with pytest.raises(AnswersError) as refused:
        validate_answers(qolaf, answers)

    error = refused.value
    assert (error.missing, error.unknown, error.invalid) == (
        ("q7",),
        ("extra",),
        {"q2": "2.5", "q3": None},
    )
    assert str(error) == (
        "qolaf-q answers cannot be scored: missing answers for q7; "
        "answers for items not in the questionnaire: 'extra'; "
        "invalid answers q2='2.5', q3=None (each must be a whole number 1-5)"
    )
    assert "\n" not in str(error)


def test_a_refusal_is_a_value_error_so_callers_can_treat_it_as_bad_input(ccis):
    with pytest.raises(ValueError):
        validate_answers(ccis, {"solid": 9})


def test_validating_does_not_change_the_answers_given(qolaf):
    posted = {f"q{n}": "2" for n in range(1, 15)}
    before = dict(posted)

    validate_answers(qolaf, posted)

    assert posted == before


def test_an_absurdly_long_number_is_refused_as_an_answer_not_a_crash():
    from survey.instruments import AnswersError, get_instrument

    ccis = get_instrument("ccis")
    answers = {item.id: "0" for item in ccis.items} | {"pad": "1" * 5000}
    with pytest.raises(AnswersError) as refused:
        validate_answers(ccis, answers)
    assert "pad" in refused.value.invalid
