"""Change against baseline, previous and best: how one total compares with earlier ones.

Pure functions over an `Instrument` and a patient's totals for it, in the order they were
submitted; no Flask, no database. The clinic pages, the list's summary rows, the exports and
the triage rules all read change through this module, so they can never disagree.

For each total in a series there are up to three comparisons (`Reference`):

- **baseline**: against the baseline total (the caller says which one it is: the answers at
  the `baseline` timepoint, else the earliest). None for the baseline itself.
- **previous**: against the total just before it. None for the first total.
- **best**: against the best total before it (the lowest where higher is worse, the highest
  otherwise: the instrument's declared direction). None for the first total.

Each `Comparison` carries the difference (`delta` = this total minus the earlier one), its
`direction` in the instrument's declared direction (better / worse / same), a `verdict` by
the minimal important change (MIC) when the instrument declares one (improved / no meaningful
change / deteriorated: meaningful when the change is at least the MIC in that direction;
None without a MIC), whether the threshold used for worsening is an extrapolation, and the
band move (`BandMove`) for instruments with bands. `Comparison.worsened` is the one test of
"worse in a way a clinician should see": deteriorated by at least the MIC, or moved to a
worse band.

Stable API (the triage rules build on it; extend, never change):

    compare(instrument, start, end, reference, *, mic=DECLARED) -> Comparison
    compare_series(instrument, totals, *, baseline=0, mic=DECLARED) -> tuple[PointChanges, ...]
    compare_latest(instrument, totals, *, baseline=0, mic=DECLARED) -> PointChanges | None
    band_move(instrument, start, end) -> BandMove | None
    verdict(delta, higher_is_worse, mic) -> Verdict | None

    Reference.BASELINE / PREVIOUS / BEST; Direction.BETTER / WORSE / SAME;
    Verdict.IMPROVED / NO_MEANINGFUL_CHANGE / DETERIORATED (all StrEnum: compare as strings)

`mic` defaults to the instrument's declared `minimal_important_change`; pass another
`MinimalImportantChange` (e.g. `declared.with_points(2)` for a clinic's own setting) or None
to compare by direction only.

    >>> from survey.instruments import get_instrument
    >>> relapse = compare_latest(get_instrument("ccis"), [10, 0, 10])
    >>> relapse.previous.delta, str(relapse.previous.verdict), str(relapse.baseline.verdict)
    (10, 'deteriorated', 'no meaningful change')
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from survey.instruments.definition import Instrument, MinimalImportantChange


class Reference(enum.StrEnum):
    """What a total is compared against."""

    BASELINE = "baseline"
    PREVIOUS = "previous"
    BEST = "best"


class Direction(enum.StrEnum):
    """Which way a change goes, in the instrument's declared direction."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


class Verdict(enum.StrEnum):
    """A change judged against the minimal important change."""

    IMPROVED = "improved"
    NO_MEANINGFUL_CHANGE = "no meaningful change"
    DETERIORATED = "deteriorated"


class _Declared:
    """Marker: use the instrument's own minimal important change."""

    def __repr__(self) -> str:
        return "DECLARED"


DECLARED = _Declared()


@dataclass(frozen=True)
class BandMove:
    """From one band to another; `steps` > 0 means towards worse bands."""

    from_band: str
    to_band: str
    steps: int

    @property
    def direction(self) -> Direction:
        if self.steps == 0:
            return Direction.SAME
        return Direction.WORSE if self.steps > 0 else Direction.BETTER


@dataclass(frozen=True)
class Comparison:
    """One total against an earlier one (`start_index` is its place in the series)."""

    reference: Reference
    start: int
    end: int
    start_index: int
    direction: Direction
    verdict: Verdict | None  # None: the instrument declares no minimal important change
    threshold: int | None  # the MIC applied in this change's direction (None when unjudged)
    extrapolated: bool  # the threshold applied is the MIC for improvement used for worsening
    band_move: BandMove | None  # None for instruments without bands

    @property
    def delta(self) -> int:
        """This total minus the earlier one."""
        return self.end - self.start

    @property
    def deteriorated(self) -> bool:
        return self.verdict == Verdict.DETERIORATED

    @property
    def improved(self) -> bool:
        return self.verdict == Verdict.IMPROVED

    @property
    def band_worse(self) -> bool:
        return self.band_move is not None and self.band_move.direction == Direction.WORSE

    @property
    def band_better(self) -> bool:
        return self.band_move is not None and self.band_move.direction == Direction.BETTER

    @property
    def worsened(self) -> bool:
        """Worse by at least the MIC, or in a worse band: what a clinician should see."""
        return self.deteriorated or self.band_worse


@dataclass(frozen=True)
class PointChanges:
    """One total of a series (at `index`) against baseline, previous and best so far."""

    index: int
    total: int
    baseline: Comparison | None
    previous: Comparison | None
    best: Comparison | None

    def against(self, reference: Reference | str) -> Comparison | None:
        """The comparison against `reference` ("baseline", "previous" or "best")."""
        return getattr(self, Reference(reference).value)

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The comparisons there are, in the order baseline, previous, best."""
        return tuple(c for c in (self.baseline, self.previous, self.best) if c is not None)

    @property
    def worsened_since_previous_or_best(self) -> tuple[Comparison, ...]:
        """The comparisons against previous or best that show worsening (empty: none)."""
        return tuple(c for c in (self.previous, self.best) if c is not None and c.worsened)


def verdict(
    delta: int, higher_is_worse: bool, mic: MinimalImportantChange | None
) -> Verdict | None:
    """Judge a change of `delta` points by the MIC; None when there is no MIC to judge by."""
    if mic is None:
        return None
    direction = _direction(delta, higher_is_worse)
    if direction == Direction.WORSE and abs(delta) >= mic.deterioration:
        return Verdict.DETERIORATED
    if direction == Direction.BETTER and abs(delta) >= mic.improvement:
        return Verdict.IMPROVED
    return Verdict.NO_MEANINGFUL_CHANGE


def band_move(instrument: Instrument, start: int, end: int) -> BandMove | None:
    """The band move from `start` to `end`, ranked best to worst by the declared direction."""
    start_band, end_band = instrument.band_for(start), instrument.band_for(end)
    if start_band is None or end_band is None:
        return None
    steps = instrument.band_rank(end_band.id) - instrument.band_rank(start_band.id)
    return BandMove(start_band.id, end_band.id, steps)


def compare(
    instrument: Instrument,
    start: int,
    end: int,
    reference: Reference | str,
    *,
    mic: MinimalImportantChange | None | _Declared = DECLARED,
    start_index: int = 0,
) -> Comparison:
    """`end` against the earlier total `start`, on `instrument`."""
    mic = instrument.minimal_important_change if isinstance(mic, _Declared) else mic
    delta = end - start
    direction = _direction(delta, instrument.higher_is_worse)
    judged = verdict(delta, instrument.higher_is_worse, mic)
    threshold = None
    if mic is not None:
        threshold = mic.deterioration if direction == Direction.WORSE else mic.improvement
    return Comparison(
        reference=Reference(reference),
        start=start,
        end=end,
        start_index=start_index,
        direction=direction,
        verdict=judged,
        threshold=threshold,
        extrapolated=(
            mic is not None and direction == Direction.WORSE and mic.deterioration_extrapolated
        ),
        band_move=band_move(instrument, start, end),
    )


def compare_series(
    instrument: Instrument,
    totals: Sequence[int],
    *,
    baseline: int | None = 0,
    mic: MinimalImportantChange | None | _Declared = DECLARED,
) -> tuple[PointChanges, ...]:
    """Every total of a series (oldest first) against baseline, previous and best so far.

    `baseline` is the index of the baseline total (None: no baseline). Best so far is the
    best of the totals before each one, so a new best shows as a change, not as zero."""
    if baseline is not None and not 0 <= baseline < len(totals):
        raise IndexError(f"baseline {baseline} is not a place in a series of {len(totals)}")
    points, best_index = [], None
    for index, total in enumerate(totals):

        def against(reference: Reference, start_index: int | None, end: int = total):
            if start_index is None:
                return None
            return compare(
                instrument, totals[start_index], end, reference, mic=mic, start_index=start_index
            )

        points.append(
            PointChanges(
                index=index,
                total=total,
                baseline=against(Reference.BASELINE, None if index == baseline else baseline),
                previous=against(Reference.PREVIOUS, index - 1 if index else None),
                best=against(Reference.BEST, best_index),
            )
        )
        # Ties keep the earlier total as "best", so the comparison points at its first time.
        if best_index is None or instrument.is_worse(totals[best_index], than=total):
            best_index = index
    return tuple(points)


def compare_latest(
    instrument: Instrument,
    totals: Sequence[int],
    *,
    baseline: int | None = 0,
    mic: MinimalImportantChange | None | _Declared = DECLARED,
) -> PointChanges | None:
    """The last total of a series against baseline, previous and best; None for no totals."""
    if not totals:
        return None
    return compare_series(instrument, totals, baseline=baseline, mic=mic)[-1]


def _direction(delta: int, higher_is_worse: bool) -> Direction:
    if delta == 0:
        return Direction.SAME
    return Direction.WORSE if (delta > 0) == higher_is_worse else Direction.BETTER
