"""Turning a complete set of answers into a total, a band, subscale sums and cut-offs reached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from survey.instruments.answers import validate_answers
from survey.instruments.definition import Band, Cutoff, Instrument


@dataclass(frozen=True)
class Score:
    """The result of scoring one completed questionnaire.

    `band` is None for instruments without published bands (CCIS); `subscales`
    is empty when the definition declares none; `cutoffs` lists the commonly
    cited thresholds the total reaches, lowest first.
    """

    total: int
    band: Band | None
    subscales: dict[str, int] = field(default_factory=dict)
    cutoffs: tuple[Cutoff, ...] = ()


def score(instrument: Instrument, answers: Mapping[str, object]) -> Score:
    """Validate `answers` against `instrument` and score them by its declared method."""
    return score_checked(instrument, validate_answers(instrument, answers))


def score_checked(instrument: Instrument, values: Mapping[str, int]) -> Score:
    """Score answers that `validate_answers` already returned (a submit checks each
    questionnaire once, then scores and stores what the check returned)."""
    # "sum" is the only method loading.py accepts; refuse here too so a new method
    # added to a file can never be scored as a sum by accident.
    if instrument.scoring_method != "sum":
        raise ValueError(f"{instrument.id}: unknown scoring method {instrument.scoring_method!r}")
    total = sum(values.values())
    return Score(
        total=total,
        band=instrument.band_for(total),
        subscales={
            subscale.id: sum(values[item_id] for item_id in subscale.item_ids)
            for subscale in instrument.subscales
        },
        cutoffs=tuple(cutoff for cutoff in instrument.cutoffs if total >= cutoff.min_total),
    )
