"""Each exported response's change against baseline, previous and best, as the clinic reads it.

The earlier totals come from the database in the export's one query (window functions over
each patient's responses to one instrument, in the order they were submitted), taken over
all of the patient's responses in the same episode of care, so a date range that leaves out
the earlier answers never changes a change. The judgement by the minimal important change is
`survey.instruments.change.compare`, the code every page uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import aliased

from survey.instruments import (
    INSTRUMENT_IDS,
    Instrument,
    MinimalImportantChange,
    get_instrument,
)
from survey.instruments.change import Reference, Verdict, compare
from survey.models import Invitation, Patient, Response

BASELINE_TIMEPOINT = "baseline"
VERDICTS = ", ".join(str(verdict) for verdict in Verdict)


def earlier_totals(site_ids) -> Subquery:
    """Per response of the sites' patients: the baseline total, the total just before it and
    the best total before it (in the instrument's declared direction)."""
    response = aliased(Response)
    # Within each episode of care: a new index date starts a new baseline.
    series = (
        response.patient_id,
        func.coalesce(Invitation.episode_id, 0),
        response.instrument_id,
    )
    in_order = (response.submitted_at, response.id)
    before = {"partition_by": series, "order_by": in_order, "rows": (None, -1)}
    best = case(
        *(
            (
                response.instrument_id == instrument_id,
                (func.min if get_instrument(instrument_id).higher_is_worse else func.max)(
                    response.total
                ).over(**before),
            )
            for instrument_id in INSTRUMENT_IDS
        ),
    )
    # Baseline: the answers at the `baseline` timepoint, else the earliest (results.py).
    baseline_first = (
        case((Invitation.timepoint == BASELINE_TIMEPOINT, 0), else_=1),
        *in_order,
    )
    whole = {"partition_by": series, "order_by": baseline_first, "rows": (None, None)}
    return (
        select(
            response.id.label("response_id"),
            func.first_value(response.total).over(**whole).label("baseline_total"),
            func.first_value(response.id).over(**whole).label("baseline_id"),
            func.lag(response.total)
            .over(partition_by=series, order_by=in_order)
            .label("previous_total"),
            best.label("best_total"),
        )
        .join(Invitation, Invitation.id == response.invitation_id)
        .join(Patient, Patient.id == response.patient_id)
        .where(Patient.site_id.in_(site_ids))
        .subquery("earlier_totals")
    )


def earlier_columns(totals: Subquery) -> tuple:
    """The columns `change_cells` reads, in its order."""
    return (
        totals.c.baseline_total,
        totals.c.baseline_id,
        totals.c.previous_total,
        totals.c.best_total,
    )


@dataclass(frozen=True)
class Earlier:
    """One response's earlier totals, as `earlier_columns` reads them."""

    baseline_total: int | None
    baseline_id: int | None
    previous_total: int | None
    best_total: int | None


def change_cells(
    instrument: Instrument,
    response_id: int,
    total: int,
    earlier: Earlier,
    mic: MinimalImportantChange | None,
) -> list:
    """change and verdict against baseline, previous and best (empty where there is none)."""
    # The baseline answers have no change against themselves.
    baseline = None if earlier.baseline_id == response_id else earlier.baseline_total
    starts = (
        (Reference.BASELINE, baseline),
        (Reference.PREVIOUS, earlier.previous_total),
        (Reference.BEST, earlier.best_total),
    )
    cells = []
    for reference, start in starts:
        if start is None:
            cells += [None, None]
            continue
        comparison = compare(instrument, start, total, reference, mic=mic)
        cells += [comparison.delta, str(comparison.verdict) if comparison.verdict else None]
    return cells
