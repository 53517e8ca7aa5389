"""Change flags: what a clinician should notice, raised once, by the timepoint that first shows it.

A flag belongs to the response (timepoint) that first meets its condition; later timepoints
that still meet it raise nothing new, so a patient who stays improved is not flagged at every
visit. A condition that stops holding and later holds again is new again.

- **CCIS meaningful improvement / deterioration**: the CCIS total differs from baseline by at
  least the threshold (`CCIS_MEANINGFUL_CHANGE`, default 3 points; the minimal important
  change is reported around 2-3 points, MEANINGFUL_CHANGE_CITATION).
- **QoLAF-Q band crossed**: the QoLAF-Q total is in a different published band from the
  previous response.
- **Quality of life better, continence worse**: at one timepoint the QoLAF-Q total is lower
  (better) than at baseline while the CCIS total is higher (worse) than at baseline by at least
  the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from survey.instruments import get_instrument

if TYPE_CHECKING:
    from survey.clinic.results import InstrumentCourse, TimelineEntry

QOLAF, CCIS = "qolaf-q", "ccis"

CCIS_IMPROVED = "ccis-improved"
CCIS_WORSENED = "ccis-worsened"
BAND_BETTER = "qolaf-band-better"
BAND_WORSE = "qolaf-band-worse"
QOL_BETTER_CONTINENCE_WORSE = "qol-better-continence-worse"
KINDS = (CCIS_IMPROVED, CCIS_WORSENED, BAND_BETTER, BAND_WORSE, QOL_BETTER_CONTINENCE_WORSE)
WORSE_KINDS = (CCIS_WORSENED, BAND_WORSE, QOL_BETTER_CONTINENCE_WORSE)

# Only what /work/shared/INSTRUMENTS.md records: no volume or pages are known here.
MEANINGFUL_CHANGE_CITATION = (
    "Bols et al., Int Urogynecol J 2013: minimal important change of the CCIS reported "
    "around 2-3 points."
)
DEFAULT_THRESHOLD = 3


@dataclass(frozen=True)
class Flag:
    """One thing that changed, raised by one timepoint."""

    kind: str
    invitation_id: int
    timepoint: str
    instrument_id: str | None
    start: int | None = None  # the total compared against (baseline or previous)
    end: int | None = None  # the total at this timepoint
    from_band: str | None = None
    to_band: str | None = None
    threshold: int | None = None

    @property
    def worse(self) -> bool:
        return self.kind in WORSE_KINDS


def meaningful_change(config) -> int:
    """The configured CCIS meaningful-change threshold, a whole number of points >= 1."""
    value = int(config.get("CCIS_MEANINGFUL_CHANGE", DEFAULT_THRESHOLD))
    if value < 1:
        raise ValueError("CCIS_MEANINGFUL_CHANGE must be at least 1 point")
    return value


def raise_flags(
    instruments: dict[str, InstrumentCourse], timepoints: list[TimelineEntry], threshold: int
) -> list[Flag]:
    """Every flag in the patient's course, in the order the timepoints raised them."""
    flags = _ccis_changes(instruments.get(CCIS), threshold)
    flags += _band_crossings(instruments.get(QOLAF))
    flags += _qol_better_continence_worse(instruments, timepoints, threshold)
    order = {timepoint.invitation_id: index for index, timepoint in enumerate(timepoints)}
    return sorted(
        flags, key=lambda flag: (order.get(flag.invitation_id, 0), KINDS.index(flag.kind))
    )


def _ccis_changes(course: InstrumentCourse | None, threshold: int) -> list[Flag]:
    if course is None or course.baseline is None:
        return []
    flags, previous_state = [], None
    for result in course.results:
        if result is course.baseline:
            continue
        delta = result.total - course.baseline.total
        state = (
            CCIS_WORSENED if delta >= threshold else CCIS_IMPROVED if -delta >= threshold else None
        )
        if state is not None and state != previous_state:
            flags.append(
                Flag(
                    state,
                    result.invitation_id,
                    result.timepoint,
                    CCIS,
                    start=course.baseline.total,
                    end=result.total,
                    threshold=threshold,
                )
            )
        previous_state = state
    return flags


def _band_crossings(course: InstrumentCourse | None) -> list[Flag]:
    if course is None:
        return []
    order = [band.id for band in course.instrument.bands]
    flags = []
    for previous, result in zip(course.results, course.results[1:], strict=False):
        if (
            previous.band_id in order
            and result.band_id in order
            and previous.band_id != result.band_id
        ):
            worse = (order.index(result.band_id) > order.index(previous.band_id)) == (
                course.instrument.higher_is_worse
            )
            flags.append(
                Flag(
                    BAND_WORSE if worse else BAND_BETTER,
                    result.invitation_id,
                    result.timepoint,
                    QOLAF,
                    start=previous.total,
                    end=result.total,
                    from_band=previous.band_id,
                    to_band=result.band_id,
                )
            )
    return flags


def _qol_better_continence_worse(
    instruments: dict[str, InstrumentCourse], timepoints: list[TimelineEntry], threshold: int
) -> list[Flag]:
    qolaf, ccis = instruments.get(QOLAF), instruments.get(CCIS)
    if not qolaf or not ccis or qolaf.baseline is None or ccis.baseline is None:
        return []
    flags, held_before = [], False
    for timepoint in timepoints:
        qol, continence = timepoint.results.get(QOLAF), timepoint.results.get(CCIS)
        if (
            qol is None
            or continence is None
            or qol is qolaf.baseline
            or continence is ccis.baseline
        ):
            continue
        holds = (
            qol.total < qolaf.baseline.total and continence.total - ccis.baseline.total >= threshold
        )
        if holds and not held_before:
            flags.append(
                Flag(
                    QOL_BETTER_CONTINENCE_WORSE,
                    timepoint.invitation_id,
                    timepoint.label,
                    None,
                    start=ccis.baseline.total,
                    end=continence.total,
                    threshold=threshold,
                )
            )
        held_before = holds
    return flags


def describe(flag: Flag, lang: str) -> str:
    """The flag in a sentence, in the reader's language."""
    if flag.kind in (CCIS_IMPROVED, CCIS_WORSENED):
        words = {
            CCIS_IMPROVED: _(
                "CCIS improved by %(points)d points since baseline (%(start)d to %(end)d), "
                "at least the %(threshold)d-point meaningful change.",
                points=flag.start - flag.end,
                start=flag.start,
                end=flag.end,
                threshold=flag.threshold,
            ),
            CCIS_WORSENED: _(
                "CCIS worsened by %(points)d points since baseline (%(start)d to %(end)d), "
                "at least the %(threshold)d-point meaningful change.",
                points=flag.end - flag.start,
                start=flag.start,
                end=flag.end,
                threshold=flag.threshold,
            ),
        }
        return words[flag.kind]
    if flag.kind in (BAND_BETTER, BAND_WORSE):
        qolaf = get_instrument(QOLAF)
        labels = {band.id: band.label(lang) for band in qolaf.bands}
        names = {
            "start": flag.start,
            "end": flag.end,
            "from_band": labels.get(flag.from_band, flag.from_band),
            "to_band": labels.get(flag.to_band, flag.to_band),
        }
        if flag.kind == BAND_BETTER:
            return _(
                "QoLAF-Q moved to a better band: %(from_band)s (%(start)d) to "
                "%(to_band)s (%(end)d).",
                **names,
            )
        return _(
            "QoLAF-Q moved to a worse band: %(from_band)s (%(start)d) to %(to_band)s (%(end)d).",
            **names,
        )
    return _(
        "Quality of life better but continence worse: QoLAF-Q lower than at baseline while "
        "CCIS rose %(points)d points (%(start)d to %(end)d).",
        points=flag.end - flag.start,
        start=flag.start,
        end=flag.end,
    )


def citation(flag: Flag) -> str:
    """Where the threshold or band behind a flag comes from."""
    if flag.kind in (BAND_BETTER, BAND_WORSE):
        return get_instrument(QOLAF).bands_citation or ""
    return MEANINGFUL_CHANGE_CITATION
