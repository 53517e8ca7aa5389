"""Change flags: what a clinician should notice, raised by the timepoint that first shows it.

Every flag reads the changes `survey.instruments.change` works out for each response: against
baseline, against the previous answers and against the best so far, in the direction each
instrument declares. A comparison against the previous answers is new at every timepoint; one
against baseline or the best so far is new when the timepoint before did not already show it,
so a patient who stays improved (or stays worse) is not flagged at every visit, while a
relapse (51/10 -> 28/0 -> 51/10) is flagged against the previous answers and the best so far
although it equals baseline.

- **Meaningful improvement / deterioration** (instruments that declare a minimal important
  change, MIC: the CCIS): the total changed by at least the MIC (`CCIS_MEANINGFUL_CHANGE`
  points, default 3: Bols EM et al., Int Urogynecol J 2013;24(3):469-78,
  doi:10.1007/s00192-012-1886-9, -2 to -3 points for improvement). The threshold for
  deterioration was not established there: using it for worsening is an extrapolation, and
  every flag that relies on it says so.
- **Band crossed** (instruments with published bands: the QoLAF-Q): the total is in a better
  or worse band than before.
- **Quality of life better, continence worse**: at one timepoint the QoLAF-Q is better than at
  baseline (or the previous answers) while the CCIS deteriorated by at least the MIC against
  the same answers.

A flag whose figures come from answers given to provisional wording says so (`provisional`).
A flag in words, and where its threshold comes from, is `flag_texts.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from survey.instruments import CCIS, INSTRUMENT_IDS, QOLAF, MinimalImportantChange, get_instrument
from survey.instruments.change import Comparison, Direction, Reference
from survey.settings import settings_of

if TYPE_CHECKING:
    from survey.clinic.results import InstrumentCourse, TimelineEntry


CCIS_IMPROVED = "ccis-improved"
CCIS_WORSENED = "ccis-worsened"
BAND_BETTER = "qolaf-band-better"
BAND_WORSE = "qolaf-band-worse"
QOL_BETTER_CONTINENCE_WORSE = "qol-better-continence-worse"
KINDS = (CCIS_IMPROVED, CCIS_WORSENED, BAND_BETTER, BAND_WORSE, QOL_BETTER_CONTINENCE_WORSE)
WORSE_KINDS = (CCIS_WORSENED, BAND_WORSE, QOL_BETTER_CONTINENCE_WORSE)
# Which flags each instrument raises: (improved, worsened) by MIC, (better, worse) by band.
CHANGE_KINDS = {CCIS: (CCIS_IMPROVED, CCIS_WORSENED)}
BAND_KINDS = {QOLAF: (BAND_BETTER, BAND_WORSE)}
# When one timepoint shows a change against several answers, the flag's figures are taken
# from the first of these that shows it: the previous answers are the most recent news.
ORDER = (Reference.PREVIOUS, Reference.BEST, Reference.BASELINE)
# Comparisons against the same earlier answers are named by the first of these.
NAMING = (Reference.BASELINE, Reference.PREVIOUS, Reference.BEST)
# What each flag compares against. Worsening is looked for against everything, so that a
# relapse back to baseline is seen; improvement against baseline (the treatment's effect)
# and band gains against the previous band, as before, so that steady recovery is not
# flagged at every visit.
ALL = (Reference.PREVIOUS, Reference.BEST, Reference.BASELINE)
REFERENCES = {
    CCIS_IMPROVED: (Reference.BASELINE,),
    CCIS_WORSENED: ALL,
    BAND_BETTER: (Reference.PREVIOUS,),
    BAND_WORSE: ALL,
}


@dataclass(frozen=True)
class Flag:
    """One thing that changed, raised by one timepoint.

    `references` are the answers it was found against (previous, best, baseline, in that
    order); `start` is the total of the first of them, `end` the total at this timepoint."""

    kind: str
    invitation_id: int
    timepoint: str
    instrument_id: str | None
    start: int | None = None
    end: int | None = None
    from_band: str | None = None
    to_band: str | None = None
    threshold: int | None = None
    references: tuple[str, ...] = (Reference.BASELINE,)
    extrapolated: bool = False  # the threshold is the MIC for improvement used for worsening
    provisional: bool = False  # some figure comes from answers with provisional wording

    @property
    def worse(self) -> bool:
        return self.kind in WORSE_KINDS

    @property
    def reference(self) -> str:
        """The answers the figures are from."""
        return self.references[0]


def meaningful_change(config) -> int:
    """The configured CCIS meaningful-change threshold, a whole number of points >= 1."""
    return settings_of(config).ccis_meaningful_change  # checked at start: at least 1


def minimal_important_changes(ccis_points: int) -> dict[str, MinimalImportantChange | None]:
    """Each instrument's MIC as declared, the CCIS one set to the clinic's setting."""
    mics = {}
    for instrument_id in INSTRUMENT_IDS:
        declared = get_instrument(instrument_id).minimal_important_change
        if instrument_id == CCIS and declared is not None:
            declared = declared.with_points(ccis_points)
        mics[instrument_id] = declared
    return mics


def raise_flags(
    instruments: dict[str, InstrumentCourse], timepoints: list[TimelineEntry], threshold: int
) -> list[Flag]:
    """Every flag in the patient's course, in the order the timepoints raised them.

    `threshold` is kept for callers; the courses' changes already carry the MIC applied."""
    flags: list[Flag] = []
    for instrument_id, (improved, worsened) in CHANGE_KINDS.items():
        if instrument_id in instruments:
            flags += _changes(instruments[instrument_id], improved, worsened)
    for instrument_id, (better, worse) in BAND_KINDS.items():
        if instrument_id in instruments:
            flags += _band_crossings(instruments[instrument_id], better, worse)
    flags += _qol_better_continence_worse(instruments, timepoints)
    order = {timepoint.invitation_id: index for index, timepoint in enumerate(timepoints)}
    return sorted(
        flags, key=lambda flag: (order.get(flag.invitation_id, 0), KINDS.index(flag.kind))
    )


def _new(
    course: InstrumentCourse, index: int, holds, references: tuple[Reference, ...]
) -> tuple[tuple[str, Comparison], ...]:
    """The comparisons of result `index`, against `references`, for which `holds` is newly
    true, as (name, comparison) in ORDER; comparisons against the same earlier total say the
    same thing and are one, named baseline rather than previous, previous rather than best."""
    point = course.changes[index]
    before = course.changes[index - 1] if index else None
    found: dict[int, list[Comparison]] = {}  # by the earlier total
    for reference in ORDER:
        comparison = point.against(reference) if reference in references else None
        if comparison is None or not holds(comparison):
            continue
        earlier = before.against(reference) if before is not None else None
        if reference == Reference.PREVIOUS or earlier is None or not holds(earlier):
            found.setdefault(comparison.start, []).append(comparison)
    return tuple(
        (str(min(same, key=lambda c: NAMING.index(c.reference)).reference), same[0])
        for same in found.values()
    )


def _flag(kind, course, index, found, **extra) -> Flag:
    result, first = course.results[index], found[0][1]
    return Flag(
        kind,
        result.invitation_id,
        result.timepoint,
        course.instrument.id,
        start=first.start,
        end=first.end,
        references=tuple(name for name, _ in found),
        extrapolated=any(c.extrapolated for _, c in found),
        provisional=any(course.provisional_in(c, result) for _, c in found),
        **extra,
    )


def _changes(course: InstrumentCourse, improved: str, worsened: str) -> list[Flag]:
    flags = []
    for index in range(len(course.results)):
        for kind, holds in ((improved, _improved), (worsened, _deteriorated)):
            found = _new(course, index, holds, REFERENCES[kind])
            if found:
                flags.append(_flag(kind, course, index, found, threshold=found[0][1].threshold))
    return flags


def _band_crossings(course: InstrumentCourse, better: str, worse: str) -> list[Flag]:
    flags = []
    for index in range(len(course.results)):
        for kind, holds in ((better, _band_better), (worse, _band_worse)):
            found = _new(course, index, holds, REFERENCES[kind])
            if found:
                move = found[0][1].band_move
                flags.append(
                    _flag(
                        kind, course, index, found, from_band=move.from_band, to_band=move.to_band
                    )
                )
    return flags


def _improved(comparison: Comparison) -> bool:
    return comparison.improved


def _deteriorated(comparison: Comparison) -> bool:
    return comparison.deteriorated


def _band_better(comparison: Comparison) -> bool:
    return comparison.band_better


def _band_worse(comparison: Comparison) -> bool:
    return comparison.band_worse


def _qol_better_continence_worse(
    instruments: dict[str, InstrumentCourse], timepoints: list[TimelineEntry]
) -> list[Flag]:
    qolaf, ccis = instruments.get(QOLAF), instruments.get(CCIS)
    if not qolaf or not ccis:
        return []
    flags, held_before = [], set()
    for timepoint in timepoints:
        qol, continence = timepoint.results.get(QOLAF), timepoint.results.get(CCIS)
        if qol is None or continence is None:
            continue
        qol_changes, ccis_changes = qolaf.changes_of(qol), ccis.changes_of(continence)
        holding = []
        for reference in (Reference.BASELINE, Reference.PREVIOUS):
            life, bowel = qol_changes.against(reference), ccis_changes.against(reference)
            if (
                reference == Reference.PREVIOUS
                and ccis_changes.baseline is not None
                and bowel is not None
                and bowel.start_index == ccis_changes.baseline.start_index
            ):
                continue  # the previous answers are the baseline ones: said once
            if (
                life is not None
                and bowel is not None
                and life.direction == Direction.BETTER
                and bowel.deteriorated
            ):
                holding.append((reference, bowel))
        new = [
            (reference, bowel)
            for reference, bowel in holding
            if reference == Reference.PREVIOUS or reference not in held_before
        ]
        if new:
            bowel = new[0][1]
            flags.append(
                Flag(
                    QOL_BETTER_CONTINENCE_WORSE,
                    timepoint.invitation_id,
                    timepoint.label,
                    None,
                    start=bowel.start,
                    end=bowel.end,
                    threshold=bowel.threshold,
                    references=tuple(str(reference) for reference, _ in new),
                    extrapolated=bowel.extrapolated,
                    provisional=qol.provisional
                    or continence.provisional
                    or any(
                        course.provisional_in(course_changes.against(reference), result)
                        for reference, _ in new
                        for course, course_changes, result in (
                            (qolaf, qol_changes, qol),
                            (ccis, ccis_changes, continence),
                        )
                    ),
                )
            )
        held_before = {reference for reference, _ in holding}
    return flags
