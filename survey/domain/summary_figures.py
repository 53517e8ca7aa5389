"""A patient's summary figures worked out in Python from their stored responses: the one
definition a submit writes (`summaries.refresh_summary`), a pure function over plain rows.

The same rules as the set-based SQL form (`summaries.figures`, kept for refreshing many
patients at once; the tests check on random histories that both give the same row):
only the responses of the patient's current (latest) episode of care count, an invitation
without an episode being the first episode's; latest is the most recently submitted (ties
broken by id), previous the one before it; baseline the earliest at the `baseline`
timepoint, else the earliest; best the best total other than the latest, in the direction
the instrument declares. `last_response_at` reads every episode's responses.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from survey.instruments import CCIS, QOLAF, get_instrument

#: The summary's column prefix for each questionnaire.
PREFIXES = {QOLAF: "qolaf", CCIS: "ccis"}
PROVISIONAL = "provisional"
BASELINE_TIMEPOINT = "baseline"
SUFFIXES = (
    "latest",
    "baseline",
    "previous",
    "best",
    "change",
    "change_previous",
    "single",
    "provisional",
    "baseline_provisional",
    "previous_provisional",
)
#: Every summary column these figures fill.
COLUMNS = (
    *(f"{prefix}_{suffix}" for prefix in PREFIXES.values() for suffix in SUFFIXES),
    "last_response_at",
)


class StoredTotal(NamedTuple):
    """One stored response as the summary reads it (with its invitation's timepoint and
    episode of care)."""

    id: int
    instrument_id: str
    total: int
    submitted_at: datetime
    wording_status: str | None
    timepoint: str | None
    episode_id: int | None


def in_current_episode(
    responses: Iterable[StoredTotal], first_episode_id: int | None, current_episode_id: int | None
) -> list[StoredTotal]:
    """The responses of the current episode (`current_episode_id`, the patient's latest; None
    for a patient without episode rows, whose responses all count)."""
    current = current_episode_id or 0
    return [r for r in responses if (r.episode_id or first_episode_id or 0) == current]


def summary_figures(
    responses: Sequence[StoredTotal],
    first_episode_id: int | None,
    current_episode_id: int | None,
) -> dict[str, object]:
    """Every column of `COLUMNS`, worked out from all of one patient's responses and the ids
    of their first and latest episodes of care (None: they have no episode rows)."""
    current = in_current_episode(responses, first_episode_id, current_episode_id)
    figures: dict[str, object] = {}
    for instrument_id, prefix in PREFIXES.items():
        answered = sorted(
            (r for r in current if r.instrument_id == instrument_id),
            key=lambda r: (r.submitted_at, r.id),
        )
        for suffix, value in instrument_figures(instrument_id, answered).items():
            figures[f"{prefix}_{suffix}"] = value
    figures["last_response_at"] = max((r.submitted_at for r in responses), default=None)
    return figures


def instrument_figures(instrument_id: str, answered: Sequence[StoredTotal]) -> dict[str, object]:
    """One questionnaire's figures from its responses in the current episode, oldest first."""
    if not answered:
        return dict.fromkeys(SUFFIXES)
    latest = answered[-1]
    previous = answered[-2] if len(answered) > 1 else None
    at_baseline = [r for r in answered if r.timepoint == BASELINE_TIMEPOINT]
    baseline = at_baseline[0] if at_baseline else answered[0]
    pick = min if get_instrument(instrument_id).higher_is_worse else max
    single = latest.id == baseline.id
    return {
        "latest": latest.total,
        "baseline": baseline.total,
        "previous": previous.total if previous else None,
        "best": pick((r.total for r in answered if r.id != latest.id), default=None),
        # No change to show while the latest answers are the baseline ones: NULL sorts last.
        "change": None if single else latest.total - baseline.total,
        "change_previous": latest.total - previous.total if previous else None,
        "single": single,
        "provisional": _provisional(latest),
        "baseline_provisional": _provisional(baseline),
        "previous_provisional": _provisional(previous) if previous else None,
    }


def _provisional(response: StoredTotal) -> bool | None:
    # As SQL compares: an unknown status is neither provisional nor not.
    if response.wording_status is None:
        return None
    return response.wording_status == PROVISIONAL
