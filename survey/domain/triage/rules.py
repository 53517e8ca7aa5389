"""Triage rules as data: which rules there are, the level each gives, and their sources.

The shipped defaults (`defaults.json`, each rule with its source) and a site's overrides
(level or off, CCIS threshold, due time per level) make a `RuleSet`; `findings.assess` applies
one to a patient's answered timepoints. No Flask, no database.

A timepoint's level is the highest level of the rules it meets (green when it meets none):
one level, one worklist item, however many rules match.

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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import resources

from survey.instruments import CCIS, get_instrument
from survey.models.triage import LEVEL_ORDER, TriageLevel

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

    def with_default_points(self, points: int | None) -> RuleSet:
        """The same rules with `points` wherever a rule leaves its CCIS threshold to the
        published MIC: the clinic's `CCIS_MEANINGFUL_CHANGE`, so that the worklist, the flags
        and the pages judge "worse" alike. A site's own points stay as they are."""
        if points is None:
            return self
        rules = tuple(
            replace(rule, points=points)
            if rule.id in POINTS_RULES and rule.points is None
            else rule
            for rule in self.rules
        )
        return replace(self, rules=rules)

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
