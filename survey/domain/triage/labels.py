"""Triage in the reader's words: levels, outcomes, rule names and each finding in a sentence.

Findings are worded from the figures stored with them, so an item reads the same whatever the
rules say today."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.domain.triage.rules import (
    CCIS_DETERIORATION,
    CCIS_PAD_ONLY,
    CONTACT_REQUEST,
    QOL_BETTER_CONTINENCE_WORSE,
    QOLAF_WORSE_BAND,
)
from survey.instruments import QOLAF, get_instrument
from survey.models import TriageLevel, TriageOutcome, TriageStatus

# What each level asks for (AmbuFlex: next questionnaire / phone call / clinic visit).
LEVELS = {
    TriageLevel.GREEN: _l("nothing to do: the next questionnaire as planned"),
    TriageLevel.YELLOW: _l("a phone call"),
    TriageLevel.RED: _l("prompt contact, usually a clinic visit"),
}
LEVEL_NAMES = {
    TriageLevel.GREEN: _l("Green"),
    TriageLevel.YELLOW: _l("Yellow"),
    TriageLevel.RED: _l("Red"),
}
OUTCOMES = {
    TriageOutcome.CALLED: _l("Called the patient"),
    TriageOutcome.VISIT_BOOKED: _l("Visit booked"),
    TriageOutcome.NO_ACTION: _l("No action needed"),
}
STATUSES = {
    TriageStatus.OPEN: _l("Open"),
    TriageStatus.CLOSED: _l("Closed"),
    TriageStatus.NOT_NEEDED: _l("Nothing to do"),
}
RULES = {
    CONTACT_REQUEST: _l("The patient asked to be contacted"),
    CCIS_DETERIORATION: _l(
        "CCIS worse by at least the minimal important change than at the previous answers or "
        "than the best so far"
    ),
    QOLAF_WORSE_BAND: _l("QoLAF-Q in a worse impact band than at the previous answers"),
    QOL_BETTER_CONTINENCE_WORSE: _l(
        "Quality of life better than at baseline but CCIS worse than at baseline by at least the "
        "minimal important change"
    ),
    CCIS_PAD_ONLY: _l("A CCIS above 0 made of the pad item alone"),
}
STEPS = {
    "triage.assessed": _l("Assessed"),
    "triage.taken": _l("Taken"),
    "triage.outcome": _l("Outcome recorded"),
    "triage.closed": _l("Closed"),
    "triage.contact_requested": _l("The patient asked to be contacted"),
    "triage.reopened": _l("Opened again: the patient asked to be contacted"),
    "triage.raised": _l("Put on the worklist: the patient asked to be contacted"),
}
EXTRAPOLATED = _l(
    "The minimal important change was published for improvement only: using it for "
    "worsening is an extrapolation."
)


def label(table: dict, value) -> str:
    """A value's label from one of the tables above, or the value itself."""
    return str(table.get(value, value))


def describe(finding: dict, lang: str) -> list[str]:
    """The sentences that say what a stored finding found, in the reader's language."""
    rule, evidence = finding.get("rule"), finding.get("evidence") or {}
    if rule == CONTACT_REQUEST:
        return [_("The patient asked to be contacted.")]
    if rule == CCIS_DETERIORATION:
        sentences = []
        for comparison in evidence.get("comparisons", []):
            values = {
                "points": comparison["delta"],
                "start": comparison["start"],
                "end": comparison["end"],
                "timepoint": comparison["from_timepoint"],
                "threshold": comparison["threshold"],
            }
            if comparison["against"] == "previous" and comparison.get("also_best"):
                sentences.append(
                    _(
                        "CCIS %(points)d points worse than at the previous answers (%(timepoint)s, "
                        "also the best so far): %(start)d to %(end)d; threshold %(threshold)d.",
                        **values,
                    )
                )
            elif comparison["against"] == "previous":
                sentences.append(
                    _(
                        "CCIS %(points)d points worse than at the previous answers "
                        "(%(timepoint)s): %(start)d to %(end)d; threshold %(threshold)d.",
                        **values,
                    )
                )
            else:
                sentences.append(
                    _(
                        "CCIS %(points)d points worse than the best so far (%(timepoint)s): "
                        "%(start)d to %(end)d; threshold %(threshold)d.",
                        **values,
                    )
                )
        return sentences
    if rule == QOLAF_WORSE_BAND:
        bands = {band.id: band.label(lang) for band in get_instrument(QOLAF).bands}
        return [
            _(
                "QoLAF-Q moved to a worse band since the previous answers (%(timepoint)s): "
                "%(from_band)s (%(start)d) to %(to_band)s (%(end)d).",
                timepoint=evidence["from_timepoint"],
                from_band=bands.get(evidence["from_band"], evidence["from_band"]),
                to_band=bands.get(evidence["to_band"], evidence["to_band"]),
                start=evidence["start"],
                end=evidence["end"],
            )
        ]
    if rule == QOL_BETTER_CONTINENCE_WORSE:
        return [
            _(
                "QoLAF-Q better than at baseline (%(qol_start)d to %(qol_end)d) while CCIS is "
                "worse (%(ccis_start)d to %(ccis_end)d; threshold %(threshold)d).",
                qol_start=evidence["qolaf_start"],
                qol_end=evidence["qolaf_end"],
                ccis_start=evidence["ccis_start"],
                ccis_end=evidence["ccis_end"],
                threshold=evidence["threshold"],
            )
        ]
    if rule == CCIS_PAD_ONLY:
        return [
            _(
                "CCIS %(total)d made of the pad item alone: ask why pads are worn (habit, urinary "
                "leakage) before reading it as incontinence.",
                total=evidence["total"],
            )
        ]
    return [label(RULES, rule)]
