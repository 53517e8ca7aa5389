"""Triage rules: which level an answered timepoint gets, and the evidence for it.

Plain functions over a patient's answered timepoints, oldest first, the one being triaged
last; no Flask, no database. The rules are data: the shipped defaults (`defaults.json`, each
with its source) and a site's overrides (level, threshold, due times) make a `RuleSet`; the
code below only says what each rule looks at. Every change is worked out by
`survey.instruments.change`, the module the clinic pages read, so the worklist and the
patient page can never disagree about what "worse" means.

A timepoint's level is the highest level of the rules it meets (green when it meets none):
one level, one worklist item, however many rules match. To keep the worklist from flooding,
a rule about a *state* (worse than the best so far, the mixed pattern, a pad-only score)
fires only at the timepoint where the state begins, not at every later one that is still in
it; a rule about a *change since the previous answers* is new by definition.

- contact-request (fixed, red): the patient asked to be contacted.
- ccis-deterioration: the CCIS is worse by at least the minimal important change than at
  the previous answers, or (newly) than the best so far. Bols et al. published the MIC for
  improvement only: using it for worsening is an extrapolation, and the evidence says so.
- qolaf-worse-band: the QoLAF-Q total is in a worse published band than at the previous
  answers.
- qol-better-continence-worse: QoLAF-Q better than at baseline while the CCIS is worse than
  at baseline by at least the minimal important change.
- ccis-pad-only: a CCIS above 0 made of the pad item alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources

from survey.instruments import Instrument, get_instrument
from survey.instruments.change import Direction, Reference, compare, compare_series
from survey.models.triage import LEVEL_ORDER, TriageLevel

QOLAF, CCIS = "qolaf-q", "ccis"
BASELINE_TIMEPOINT = "baseline"

CONTACT_REQUEST = "contact-request"
CCIS_DETERIORATION = "ccis-deterioration"
QOLAF_WORSE_BAND = "qolaf-worse-band"
QOL_BETTER_CONTINENCE_WORSE = "qol-better-continence-worse"
CCIS_PAD_ONLY = "ccis-pad-only"
RULE_IDS = (
    CONTACT_REQUEST,
    CCIS_DETERIORATION,
    QOLAF_WORSE_BAND,
    QOL_BETTER_CONTINENCE_WORSE,
    CCIS_PAD_ONLY,
)
# Rules whose CCIS threshold a site may set (blank: the CCIS's declared MIC).
POINTS_RULES = (CCIS_DETERIORATION, QOL_BETTER_CONTINENCE_WORSE)
ACTION_LEVELS = (TriageLevel.YELLOW, TriageLevel.RED)  # the levels that need someone
OFF = "off"
MAX_DUE_HOURS = 24 * 30


class RulesError(ValueError):
    """Rules or a site's overrides that cannot be used; the message (English) says why."""


@dataclass(frozen=True)
class Rule:
    """One rule as a site uses it: its level (None: switched off), CCIS points where it has a
    threshold (None: the instrument's declared MIC), and its source."""

    id: str
    level: TriageLevel | None
    source: str
    points: int | None = None
    fixed: bool = False
    extrapolated: bool = False


@dataclass(frozen=True)
class RuleSet:
    """Every rule with its level, and how long each level may wait for action."""

    rules: tuple[Rule, ...]
    due_hours: Mapping[str, int]
    due_hours_source: str = ""

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)

    def due_after(self, level: TriageLevel) -> timedelta | None:
        """How long an item of this level may wait (None: green, nothing to do)."""
        hours = self.due_hours.get(str(level))
        return timedelta(hours=hours) if hours else None


@dataclass(frozen=True)
class Answered:
    """One answered timepoint as the rules read it."""

    invitation_id: int
    timepoint: str
    totals: Mapping[str, int]  # instrument id -> total
    ccis_pad: int | None = None  # the CCIS pad item's answer
    contact_requested: bool = False


@dataclass(frozen=True)
class Finding:
    """What one rule found at the timepoint: the figures, the source, the level it asks for."""

    rule_id: str
    level: TriageLevel
    evidence: Mapping[str, object]
    source: str
    extrapolated: bool = False

    def as_dict(self) -> dict:
        """The finding as stored with the item (JSON): kept as assessed, whatever changes."""
        return {
            "rule": self.rule_id,
            "level": str(self.level),
            "evidence": dict(self.evidence),
            "source": self.source,
            "extrapolated": self.extrapolated,
        }


@dataclass(frozen=True)
class Assessment:
    level: TriageLevel
    findings: tuple[Finding, ...] = field(default_factory=tuple)


def highest(levels) -> TriageLevel:
    """The highest of some levels; green for none."""
    return max(
        (TriageLevel(level) for level in levels), key=LEVEL_ORDER.index, default=TriageLevel.GREEN
    )


# -- the rule sets ---------------------------------------------------------------------------


@functools.cache
def shipped_rules() -> RuleSet:
    """The defaults shipped in defaults.json, checked once per process."""
    data = json.loads((resources.files(__package__) / "defaults.json").read_text("utf-8"))
    rules = []
    for entry in data["rules"]:
        if entry["id"] not in RULE_IDS:
            raise RulesError(f"defaults.json: unknown rule {entry['id']!r}")
        rules.append(
            Rule(
                id=entry["id"],
                level=_level(entry["level"], entry["id"]),
                source=entry["source"],
                points=entry.get("points"),
                fixed=entry.get("fixed", False),
                extrapolated=entry.get("extrapolated", False),
            )
        )
    if tuple(rule.id for rule in rules) != RULE_IDS:
        raise RulesError("defaults.json: every rule, once, in the order of RULE_IDS")
    due_hours = _due_hours(data["due_hours"])
    return RuleSet(tuple(rules), due_hours, data["due_hours_source"])


def site_rules(overrides: Mapping | None, due_hours: Mapping | None) -> RuleSet:
    """The shipped rules with a site's overrides applied: {rule id: {"level": "off" | level,
    "points": int | None}} and {level: hours}. Raises RulesError for anything unusable."""
    shipped = shipped_rules()
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(RULE_IDS))
    if unknown:
        raise RulesError(f"unknown rule {unknown[0][:40]!r}")
    rules = []
    for rule in shipped.rules:
        override = overrides.get(rule.id)
        if override is None:
            rules.append(rule)
            continue
        if not isinstance(override, Mapping) or set(override) - {"level", "points"}:
            raise RulesError(f"{rule.id}: an override has a level and, for some rules, points")
        if rule.fixed:
            raise RulesError(f"{rule.id}: this rule cannot be changed")
        level = override.get("level", str(rule.level))
        points = override.get("points", rule.points)
        if points is not None and rule.id not in POINTS_RULES:
            raise RulesError(f"{rule.id}: this rule has no threshold to set")
        if points is not None and (isinstance(points, bool) or not isinstance(points, int)):
            raise RulesError(f"{rule.id}: points must be a whole number")
        if points is not None and not 1 <= points <= get_instrument(CCIS).max_total:
            raise RulesError(f"{rule.id}: points must be between 1 and 20")
        rules.append(
            Rule(
                id=rule.id,
                level=None if level == OFF else _level(level, rule.id),
                source=rule.source,
                points=points,
                extrapolated=rule.extrapolated,
            )
        )
    hours = dict(shipped.due_hours)
    hours.update(_due_hours(due_hours or {}, partial=True))
    return RuleSet(tuple(rules), hours, shipped.due_hours_source)


def _level(value, where: str) -> TriageLevel:
    try:
        return TriageLevel(value)
    except ValueError:
        raise RulesError(f"{where}: {str(value)[:16]!r} is not a level") from None


def _due_hours(value: Mapping, partial: bool = False) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise RulesError("due hours: a level -> hours mapping")
    wanted = {str(level) for level in ACTION_LEVELS}
    if set(value) - wanted or (not partial and set(value) != wanted):
        raise RulesError("due hours are given for yellow and red only")
    for level, hours in value.items():
        if isinstance(hours, bool) or not isinstance(hours, int):
            raise RulesError(f"due hours for {level}: a whole number of hours")
        if not 1 <= hours <= MAX_DUE_HOURS:
            raise RulesError(f"due hours for {level}: between 1 and {MAX_DUE_HOURS}")
    return dict(value)


# -- assessing one timepoint -----------------------------------------------------------------


def assess(history: Sequence[Answered], rules: RuleSet) -> Assessment:
    """The level of the last answered timepoint of `history` (oldest first) and what each
    rule that is switched on found there."""
    if not history:
        raise ValueError("nothing to assess: no answered timepoint")
    findings = []
    for rule in rules.rules:
        if rule.level is None:
            continue
        evidence = EVALUATORS[rule.id](history, rule)
        if evidence is not None:
            extrapolated = bool(evidence.pop("extrapolated", False))
            findings.append(Finding(rule.id, rule.level, evidence, rule.source, extrapolated))
    return Assessment(highest(finding.level for finding in findings), tuple(findings))


def _series(history: Sequence[Answered], instrument_id: str) -> tuple[list[int], int | None]:
    """The instrument's totals through the last timepoint and the baseline's place among
    them; ([], None) when the last timepoint did not answer the instrument."""
    answered = [entry for entry in history if instrument_id in entry.totals]
    if not answered or answered[-1] is not history[-1]:
        return [], None
    labels = [entry.timepoint for entry in answered]
    baseline = labels.index(BASELINE_TIMEPOINT) if BASELINE_TIMEPOINT in labels else 0
    return [entry.totals[instrument_id] for entry in answered], baseline


def _mic(instrument: Instrument, rule: Rule):
    declared = instrument.minimal_important_change
    if rule.points is None:
        return declared
    if declared is None:
        raise RulesError(f"{rule.id}: {instrument.id} declares no minimal important change")
    return declared.with_points(rule.points)


def _comparison_evidence(comparison, history_labels: list[str]) -> dict:
    return {
        "against": str(comparison.reference),
        "start": comparison.start,
        "end": comparison.end,
        "delta": comparison.delta,
        "threshold": comparison.threshold,
        "from_timepoint": history_labels[comparison.start_index],
    }


def _contact_request(history: Sequence[Answered], rule: Rule) -> dict | None:
    return {} if history[-1].contact_requested else None


def _ccis_deterioration(history: Sequence[Answered], rule: Rule) -> dict | None:
    ccis = get_instrument(CCIS)
    totals, baseline = _series(history, CCIS)
    if len(totals) < 2 or (mic := _mic(ccis, rule)) is None:
        return None
    points = compare_series(ccis, totals, baseline=baseline, mic=mic)
    now, before = points[-1], points[-2]
    labels = [entry.timepoint for entry in history if CCIS in entry.totals]
    best_worse = now.best is not None and now.best.deteriorated
    # Worse than the best so far is a state: it alerts where it starts, not at every visit.
    best_is_new = best_worse and not (before.best is not None and before.best.deteriorated)
    same_answers = (
        now.best is not None
        and now.previous is not None
        and now.best.start_index == now.previous.start_index
    )
    found = []
    if now.previous is not None and now.previous.deteriorated:
        found.append(_comparison_evidence(now.previous, labels) | {"also_best": same_answers})
    if best_is_new and not same_answers:
        found.append(_comparison_evidence(now.best, labels))
    if not found:
        return None
    return {
        "comparisons": found,
        "extrapolated": now.previous.extrapolated or now.best.extrapolated,
    }


def _qolaf_worse_band(history: Sequence[Answered], rule: Rule) -> dict | None:
    qolaf = get_instrument(QOLAF)
    totals, baseline = _series(history, QOLAF)
    if len(totals) < 2:
        return None
    previous = compare(
        qolaf, totals[-2], totals[-1], Reference.PREVIOUS, start_index=len(totals) - 2
    )
    if not previous.band_worse:
        return None
    labels = [entry.timepoint for entry in history if QOLAF in entry.totals]
    return {
        **_comparison_evidence(previous, labels),
        "from_band": previous.band_move.from_band,
        "to_band": previous.band_move.to_band,
    }


def _mixed_pattern(history: Sequence[Answered], rule: Rule) -> dict | None:
    """QoLAF-Q better than baseline while the CCIS is worse than baseline by the MIC, at the
    last timepoint of `history` (None when it does not hold or cannot be judged)."""
    qolaf, ccis = get_instrument(QOLAF), get_instrument(CCIS)
    qol_totals, qol_baseline = _series(history, QOLAF)
    ccis_totals, ccis_baseline = _series(history, CCIS)
    if not qol_totals or not ccis_totals or (mic := _mic(ccis, rule)) is None:
        return None
    if qol_baseline == len(qol_totals) - 1 or ccis_baseline == len(ccis_totals) - 1:
        return None  # this is the baseline
    qol = compare(qolaf, qol_totals[qol_baseline], qol_totals[-1], Reference.BASELINE)
    continence = compare(
        ccis, ccis_totals[ccis_baseline], ccis_totals[-1], Reference.BASELINE, mic=mic
    )
    if qol.direction != Direction.BETTER or not continence.deteriorated:
        return None
    return {
        "qolaf_start": qol.start,
        "qolaf_end": qol.end,
        "ccis_start": continence.start,
        "ccis_end": continence.end,
        "threshold": continence.threshold,
        "extrapolated": continence.extrapolated,
    }


def _qol_better_continence_worse(history: Sequence[Answered], rule: Rule) -> dict | None:
    found = _mixed_pattern(history, rule)
    if found is None:
        return None
    earlier = [
        i for i, entry in enumerate(history[:-1]) if QOLAF in entry.totals and CCIS in entry.totals
    ]
    if earlier and _mixed_pattern(history[: earlier[-1] + 1], rule) is not None:
        return None  # already in this state at the previous answers
    return found


def _pad_only(entry: Answered) -> bool:
    total = entry.totals.get(CCIS)
    return bool(total) and entry.ccis_pad == total


def _ccis_pad_only(history: Sequence[Answered], rule: Rule) -> dict | None:
    if CCIS not in history[-1].totals or not _pad_only(history[-1]):
        return None
    earlier = [entry for entry in history[:-1] if CCIS in entry.totals]
    if earlier and _pad_only(earlier[-1]):
        return None  # already so at the previous answers
    return {"total": history[-1].totals[CCIS], "pad": history[-1].ccis_pad}


EVALUATORS = {
    CONTACT_REQUEST: _contact_request,
    CCIS_DETERIORATION: _ccis_deterioration,
    QOLAF_WORSE_BAND: _qolaf_worse_band,
    QOL_BETTER_CONTINENCE_WORSE: _qol_better_continence_worse,
    CCIS_PAD_ONLY: _ccis_pad_only,
}
