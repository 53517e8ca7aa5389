"""What each triage rule looks at, and the level of one answered timepoint.

Plain functions over a patient's answered timepoints, oldest first, the one being triaged
last; no Flask, no database. Every change is worked out by `survey.instruments.change`, the
module the clinic pages read, so the worklist and the patient page can never disagree about
what "worse" means. A rule about a *state* (worse than the best so far, the mixed pattern, a
pad-only score) fires only at the timepoint where the state begins, not at every later one
still in it; a rule about a *change since the previous answers* is new by definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from survey.domain.triage.rules import (
    BASELINE_TIMEPOINT,
    CCIS_DETERIORATION,
    CCIS_PAD_ONLY,
    CONTACT_REQUEST,
    QOL_BETTER_CONTINENCE_WORSE,
    QOLAF_WORSE_BAND,
    Answered,
    Assessment,
    Finding,
    Rule,
    RulesError,
    RuleSet,
    highest,
)
from survey.instruments import CCIS, QOLAF, Instrument, get_instrument
from survey.instruments.change import Direction, Reference, compare, compare_series


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
    found, evidence = [], []
    if now.previous is not None and now.previous.deteriorated:
        found.append(now.previous)
        evidence.append(_comparison_evidence(now.previous, labels) | {"also_best": same_answers})
    if best_is_new and not same_answers:
        found.append(now.best)
        evidence.append(_comparison_evidence(now.best, labels))
    if not found:
        return None
    return {
        "comparisons": evidence,
        "extrapolated": any(comparison.extrapolated for comparison in found),
    }


def _qolaf_worse_band(history: Sequence[Answered], rule: Rule) -> dict | None:
    qolaf = get_instrument(QOLAF)
    totals, _baseline = _series(history, QOLAF)
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
