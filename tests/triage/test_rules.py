"""The triage rules as plain functions: which level a timepoint gets, and the evidence.

Every expected figure is worked out by hand from the totals in the test."""

import json
from datetime import timedelta
from pathlib import Path

import pytest

import survey.domain.triage
from survey.domain.triage.findings import assess
from survey.domain.triage.rules import (
    CCIS_DETERIORATION,
    CCIS_PAD_ONLY,
    CONTACT_REQUEST,
    QOL_BETTER_CONTINENCE_WORSE,
    QOLAF_WORSE_BAND,
    RULE_IDS,
    Answered,
    RulesError,
    shipped_rules,
    site_rules,
)
from survey.instruments import get_instrument
from survey.models import TriageLevel

GREEN, YELLOW, RED = TriageLevel.GREEN, TriageLevel.YELLOW, TriageLevel.RED


def history(*timepoints, asked: tuple[int, ...] = ()) -> list[Answered]:
    """(label, QoLAF-Q total, CCIS total, pad answer) per timepoint, oldest first."""
    return [
        Answered(
            invitation_id=n,
            timepoint=label,
            totals={"qolaf-q": qolaf, "ccis": ccis},
            ccis_pad=pad,
            contact_requested=n in asked,
        )
        for n, (label, qolaf, ccis, pad) in enumerate(timepoints, start=1)
    ]


def levels(entries, rules=None) -> list[str]:
    """The level each timepoint got when it was the newest."""
    rules = rules or shipped_rules()
    return [str(assess(entries[: n + 1], rules).level) for n in range(len(entries))]


def rules_at(entries, place: int, rules=None) -> list[str]:
    return [f.rule_id for f in assess(entries[: place + 1], rules or shipped_rules()).findings]


def test_the_relapse_is_yellow_at_the_third_timepoint_with_the_ccis_evidence():
    relapse = history(("baseline", 51, 10, 2), ("6 months", 28, 0, 0), ("12 months", 51, 10, 2))
    assert levels(relapse) == ["green", "green", "yellow"]
    assessment = assess(relapse, shipped_rules())
    assert [f.rule_id for f in assessment.findings] == [CCIS_DETERIORATION, QOLAF_WORSE_BAND]
    ccis = assessment.findings[0]
    # 0 -> 10 against the previous answers, which are also the best so far: one comparison.
    assert ccis.evidence == {
        "comparisons": [
            {
                "against": "previous",
                "start": 0,
                "end": 10,
                "delta": 10,
                "threshold": 3,
                "from_timepoint": "6 months",
                "also_best": True,
            }
        ]
    }
    assert ccis.extrapolated is True  # Bols et al. published the MIC for improvement only
    assert "Bols EM" in ccis.source and "doi:10.1007/s00192-012-1886-9" in ccis.source
    band = assessment.findings[1]
    assert (band.evidence["from_band"], band.evidence["to_band"]) == ("limited", "high")
    assert (band.evidence["start"], band.evidence["end"]) == (28, 51)
    assert "Cir Esp 2018;96:213-20" in band.source and band.extrapolated is False


def test_a_patient_who_stays_improved_is_always_green():
    improved = history(
        ("baseline", 51, 10, 2),
        ("3 weeks", 44, 6, 1),
        ("3 months", 35, 2, 0),
        ("6 months", 28, 0, 0),
        ("12 months", 28, 0, 0),
        ("24 months", 27, 1, 0),  # a point of noise: below the MIC, within the band
    )
    assert levels(improved) == ["green"] * 6


def test_worse_than_the_best_so_far_alerts_where_it_starts_not_at_every_visit():
    # CCIS 0, 2, 4, 4, 4: each step is 2 (below the MIC of 3) but 4 is 4 worse than the best.
    drifting = history(
        ("baseline", 30, 0, 0),
        ("3 months", 30, 2, 0),
        ("6 months", 30, 4, 0),
        ("9 months", 30, 4, 0),
        ("12 months", 30, 4, 0),
    )
    assert levels(drifting) == ["green", "green", "yellow", "green", "green"]
    [finding] = assess(drifting[:3], shipped_rules()).findings
    assert finding.evidence["comparisons"] == [
        {
            "against": "best",
            "start": 0,
            "end": 4,
            "delta": 4,
            "threshold": 3,
            "from_timepoint": "baseline",
        }
    ]


def test_a_relapse_that_lasts_is_not_flagged_again_but_a_further_drop_is():
    lasting = history(
        ("baseline", 51, 10, 2),
        ("6 months", 28, 0, 0),
        ("12 months", 28, 10, 2),
        ("18 months", 28, 10, 2),
        ("24 months", 28, 14, 2),
    )
    assert levels(lasting) == ["green", "green", "yellow", "green", "yellow"]


def test_several_rules_give_one_level_the_highest():
    # Continence worse, QoL better than baseline, and the patient asked to be contacted.
    mixed = history(
        ("baseline", 45, 3, 1), ("3 months", 33, 4, 1), ("6 months", 30, 8, 2), asked=(3,)
    )
    assessment = assess(mixed, shipped_rules())
    assert [f.rule_id for f in assessment.findings] == [
        CONTACT_REQUEST,
        CCIS_DETERIORATION,
        QOL_BETTER_CONTINENCE_WORSE,
    ]
    assert assessment.level == RED
    assert [f.level for f in assessment.findings] == [RED, YELLOW, YELLOW]


def test_a_patient_who_asks_to_be_contacted_is_red_whatever_the_scores():
    unchanged = history(("baseline", 38, 5, 1), ("3 months", 38, 5, 1), asked=(2,))
    assert levels(unchanged) == ["green", "red"]
    [finding] = assess(unchanged, shipped_rules()).findings
    assert finding.rule_id == CONTACT_REQUEST and "AmbuFlex" in finding.source


def test_quality_of_life_better_but_continence_worse_alerts_once():
    pattern = history(
        ("baseline", 45, 3, 1),
        ("3 months", 33, 6, 1),
        ("6 months", 30, 6, 1),
    )
    assert rules_at(pattern, 1) == [CCIS_DETERIORATION, QOL_BETTER_CONTINENCE_WORSE]
    assert levels(pattern) == ["green", "yellow", "green"]  # still so at 6 months: not new
    [_, finding] = assess(pattern[:2], shipped_rules()).findings
    assert finding.evidence == {
        "qolaf_start": 45,
        "qolaf_end": 33,
        "ccis_start": 3,
        "ccis_end": 6,
        "threshold": 3,
    }
    assert finding.extrapolated is True


def test_a_ccis_made_of_the_pad_item_alone_alerts_where_it_starts():
    pads = history(
        ("baseline", 30, 0, 0),
        ("3 months", 30, 2, 2),
        ("6 months", 30, 2, 2),
        ("9 months", 30, 2, 1),  # no longer the pad item alone
    )
    assert [rules_at(pads, n) for n in range(4)] == [[], [CCIS_PAD_ONLY], [], []]
    [finding] = assess(pads[:2], shipped_rules()).findings
    assert finding.evidence == {"total": 2, "pad": 2}
    assert "Jorge JMN, Wexner SD" in finding.source


def test_one_point_across_a_band_boundary_is_a_worse_band():
    # The bands are published cut-offs with no margin: 28 (limited) to 29 (moderate) is a
    # worse band. docs/clinicians.md says so, and how a site can quieten the rule.
    entries = history(("baseline", 28, 0, 0), ("3 months", 29, 0, 0))
    assert rules_at(entries, 1) == [QOLAF_WORSE_BAND]


def test_a_baseline_that_is_not_the_first_answer_is_the_one_compared():
    # Answers before the baseline timepoint (a screening) do not count as baseline.
    entries = history(("screening", 60, 12, 2), ("baseline", 45, 3, 1), ("3 months", 33, 6, 1))
    assert QOL_BETTER_CONTINENCE_WORSE in rules_at(entries, 2)


def test_an_instrument_not_answered_at_the_timepoint_is_not_judged():
    entries = [
        Answered(1, "baseline", {"qolaf-q": 28, "ccis": 0}, 0),
        Answered(2, "3 months", {"qolaf-q": 51}),  # only the QoLAF-Q was asked
    ]
    assert [f.rule_id for f in assess(entries, shipped_rules()).findings] == [QOLAF_WORSE_BAND]
    with pytest.raises(ValueError, match="nothing to assess"):
        assess([], shipped_rules())


# -- rules as data ---------------------------------------------------------------------------


def test_every_shipped_rule_states_its_source_and_the_file_is_the_one_loaded():
    path = Path(survey.domain.triage.__file__).parent / "defaults.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    rules = shipped_rules()
    assert [rule["id"] for rule in data["rules"]] == list(RULE_IDS) == [r.id for r in rules.rules]
    for rule in rules.rules:
        assert len(rule.source) > 40 and ("doi:" in rule.source or "Cir Esp" in rule.source)
    # The CCIS threshold is the one the instrument declares, with the same source.
    mic = get_instrument("ccis").minimal_important_change
    assert "Bols EM" in mic.citation and rules.rule(CCIS_DETERIORATION).points is None
    assert rules.rule(CONTACT_REQUEST).fixed and rules.rule(CONTACT_REQUEST).level == RED
    assert rules.due_after(YELLOW) == timedelta(hours=72)
    assert rules.due_after(RED) == timedelta(hours=24)
    assert rules.due_after(GREEN) is None
    assert "not from the literature" in rules.due_hours_source


def test_a_site_can_switch_a_rule_off_raise_its_level_or_set_its_own_threshold():
    drifting = history(("baseline", 30, 0, 0), ("3 months", 30, 2, 0))
    assert levels(drifting) == ["green", "green"]
    stricter = site_rules({CCIS_DETERIORATION: {"level": "red", "points": 2}}, {"red": 4})
    assert levels(drifting, stricter) == ["green", "red"]
    assert stricter.due_after(RED) == timedelta(hours=4)
    assert stricter.due_after(YELLOW) == timedelta(hours=72)  # not overridden: the default
    relapse = history(("baseline", 51, 10, 2), ("6 months", 28, 0, 0), ("12 months", 51, 10, 2))
    quiet = site_rules(
        {CCIS_DETERIORATION: {"level": "off"}, QOLAF_WORSE_BAND: {"level": "off"}}, None
    )
    assert levels(relapse, quiet) == ["green", "green", "green"]
    noted = site_rules(
        {CCIS_DETERIORATION: {"level": "green"}, QOLAF_WORSE_BAND: {"level": "off"}}, {}
    )
    assessment = assess(relapse, noted)
    assert assessment.level == GREEN and [f.rule_id for f in assessment.findings] == [
        CCIS_DETERIORATION
    ]


@pytest.mark.parametrize(
    "overrides, due, message",
    [
        ({"made-up": {"level": "red"}}, None, "unknown rule"),
        ({CONTACT_REQUEST: {"level": "off"}}, None, "cannot be changed"),
        ({CCIS_DETERIORATION: {"level": "purple"}}, None, "is not a level"),
        ({CCIS_DETERIORATION: {"level": "red", "points": 0}}, None, "between 1 and 20"),
        ({CCIS_DETERIORATION: {"level": "red", "points": 21}}, None, "between 1 and 20"),
        ({CCIS_DETERIORATION: {"level": "red", "points": "3"}}, None, "whole number"),
        ({CCIS_DETERIORATION: {"level": "red", "points": True}}, None, "whole number"),
        ({QOLAF_WORSE_BAND: {"level": "red", "points": 3}}, None, "no threshold"),
        ({CCIS_DETERIORATION: {"level": "red", "colour": "x"}}, None, "an override has"),
        ({CCIS_DETERIORATION: "red"}, None, "an override has"),
        (None, {"green": 5}, "yellow and red only"),
        (None, {"red": 0}, "between 1 and 720"),
        (None, {"red": 721}, "between 1 and 720"),
        (None, {"red": 2.5}, "whole number"),
        (None, ["red"], "mapping"),
    ],
)
def test_overrides_the_rules_cannot_use_are_refused(overrides, due, message):
    with pytest.raises(RulesError, match=message):
        site_rules(overrides, due)
