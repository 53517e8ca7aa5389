"""The columns of the research exports, as the data dictionary describes them: the long export
(one row per patient-timepoint-item) and the wide (one row per patient-timepoint). Column names
are stable; exports.py writes the rows in these orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from survey.clinic.export_changes import VERDICTS
from survey.instruments import (
    CCIS,
    INSTRUMENT_IDS,
    WORDING_STATUSES,
    Instrument,
    all_instruments,
    get_instrument,
    shipped_languages,
)


@dataclass(frozen=True)
class Column:
    """One CSV column as the data dictionary describes it."""

    name: str
    kind: str  # text, integer, date, datetime, code
    description: str
    values: str = ""


def _scale(instrument: Instrument) -> str:
    return f"{instrument.options[0].value}-{instrument.options[-1].value}"


def prefix(instrument: Instrument) -> str:
    """The column-name prefix of an instrument: "qolaf_q", "ccis"."""
    return instrument.id.replace("-", "_")


# Appended after every other column, so existing analyses that read columns by position keep
# working.
EPISODE_COLUMN = Column(
    "episode",
    "integer",
    _l(
        "The episode of care the timepoint belongs to, from 1 (a new index date, e.g. a "
        "definitive repair after a seton, starts the next). index_date, days_since_index and "
        "the changes against baseline, previous and best are read within the episode."
    ),
)


def long_columns(ccis_points: int | None = None) -> tuple[Column, ...]:
    """The long export's columns, in order (`ccis_points`: the clinic's CCIS MIC setting)."""
    return (
        Column(
            "patient_reference",
            "text",
            _l("The site's reference for the patient (never the phone number)."),
        ),
        Column("site", "text", _l("The site that follows the patient.")),
        Column(
            "index_date",
            "date",
            _l(
                "The index date (procedure date) of the timepoint's episode of care, empty "
                "when not recorded."
            ),
            "YYYY-MM-DD",
        ),
        Column("timepoint", "text", _l("The timepoint's label, e.g. baseline, 3 months.")),
        Column(
            "timepoint_id",
            "integer",
            _l("Identifies the timepoint (invitation) in this database; joins long and wide rows."),
        ),
        Column(
            "response_id", "integer", _l("Identifies the completed questionnaire in this database.")
        ),
        Column("instrument_id", "code", _l("The questionnaire."), ", ".join(INSTRUMENT_IDS)),
        Column(
            "instrument_version",
            "text",
            _l("The version of the questionnaire definition that scored the answers."),
        ),
        Column(
            "wording_version",
            "text",
            _l(
                "The version of the wording the patient saw (an imported licensed wording's "
                "own version, else the definition's); with wording_hash it names the exact "
                "texts."
            ),
        ),
        Column(
            "language",
            "code",
            _l("The language the patient answered in."),
            # The shipped languages; a clinic's imported language adds its own code.
            ", ".join(shipped_languages()),
        ),
        Column(
            "wording_status",
            "code",
            _l(
                "How far the wording the patient saw can be trusted; provisional wording gives "
                "totals that are not validated scores."
            ),
            ", ".join(WORDING_STATUSES),
        ),
        Column(
            "wording_hash",
            "text",
            _l("SHA-256 of exactly the texts the patient saw (see docs/instruments.md)."),
        ),
        Column(
            "mode",
            "code",
            _l(
                "How the answers were given: web (the patient's own phone), tablet (a clinic "
                "tablet), paper or phone (entered by staff)."
            ),
            "web, tablet, paper, phone",
        ),
        Column("submitted_at", "datetime", _l("When the answers were submitted, UTC."), "ISO 8601"),
        Column(
            "days_since_index",
            "integer",
            _l(
                "Days from the index date to the submission date in the patient's time zone; "
                "empty without an index date."
            ),
        ),
        Column(
            "total",
            "integer",
            _l(
                "The questionnaire's total; not a validated score when wording_status is "
                "provisional."
            ),
            "; ".join(f"{i.id}: {i.min_total}-{i.max_total}" for i in all_instruments()),
        ),
        *change_columns(ccis_points=ccis_points),
        Column(
            "item_id",
            "code",
            _l("The item answered (see the item columns of the wide export for every id)."),
        ),
        Column("item_position", "integer", _l("The item's number in the questionnaire, from 1.")),
        Column(
            "value",
            "integer",
            _l("The answer's score on the questionnaire's scale."),
            "; ".join(f"{i.id}: {_scale(i)}" for i in all_instruments()),
        ),
        EPISODE_COLUMN,
    )


def wide_columns(
    instruments: Iterable[Instrument] | None = None, ccis_points: int | None = None
) -> tuple[Column, ...]:
    """The wide export's columns: the timepoint, then for each instrument its response."""
    columns = [
        *long_columns()[:5],
        Column(
            "timepoint_opens_at",
            "datetime",
            _l("When the timepoint's answer window opened, UTC."),
            "ISO 8601",
        ),
        Column(
            "timepoint_status",
            "code",
            _l("Whether the timepoint was answered."),
            "completed, partial, open, missed, cancelled",
        ),
    ]
    for instrument in instruments or all_instruments():
        p = prefix(instrument)
        columns += [
            Column(
                f"{p}_response_id",
                "integer",
                _l("Identifies the completed questionnaire; empty when not answered."),
            ),
            Column(
                f"{p}_submitted_at",
                "datetime",
                _l("When the answers were submitted, UTC."),
                "ISO 8601",
            ),
            Column(
                f"{p}_days_since_index",
                "integer",
                _l("Days from the index date to submission, in the patient's time zone."),
            ),
            Column(
                f"{p}_language",
                "code",
                _l("The language the patient answered in."),
                ", ".join(shipped_languages()),
            ),
            Column(
                f"{p}_instrument_version",
                "text",
                _l("The version of the questionnaire definition."),
            ),
            Column(
                f"{p}_wording_version",
                "text",
                _l("The version of the wording the patient saw."),
            ),
            Column(
                f"{p}_wording_status",
                "code",
                _l("Wording status of what the patient saw."),
                ", ".join(WORDING_STATUSES),
            ),
            Column(
                f"{p}_wording_hash", "text", _l("SHA-256 of exactly the texts the patient saw.")
            ),
            Column(
                f"{p}_mode",
                "code",
                _l("How the answers were given."),
                "web, tablet, paper, phone",
            ),
            Column(
                f"{p}_total",
                "integer",
                _l(
                    "Total score, higher is worse; not a validated score when the wording "
                    "status is provisional."
                )
                if instrument.higher_is_worse
                else _l(
                    "Total score, higher is better; not a validated score when the wording "
                    "status is provisional."
                ),
                f"{instrument.min_total}-{instrument.max_total}",
            ),
        ]
        if instrument.bands:
            columns.append(
                Column(
                    f"{p}_band",
                    "code",
                    _l(
                        "Published band of the total (%(source)s). Provisional when the "
                        "wording status is provisional: the band of a total that is not a "
                        "validated score.",
                        source=instrument.bands_citation,
                    ),
                    ", ".join(b.id for b in instrument.bands),
                )
            )
        columns += change_columns(f"{p}_", ccis_points=ccis_points)
        for subscale in instrument.subscales:
            columns.append(
                Column(
                    f"{p}_{subscale.id}",
                    "integer",
                    _l("Subscale sum (provisional item mapping).")
                    if subscale.provisional
                    else _l("Subscale sum."),
                )
            )
        for item in instrument.items:
            columns.append(
                Column(
                    f"{p}_item_{item.id}",
                    "integer",
                    _l("Answer to item %(number)d.", number=item.number),
                    _scale(instrument),
                )
            )
    columns.append(EPISODE_COLUMN)
    return tuple(columns)


def change_columns(name_prefix: str = "", ccis_points: int | None = None) -> tuple:
    """The change columns (see export_changes.py), for the long export (no prefix) or one
    instrument of the wide; `ccis_points` is the clinic's CCIS_MEANINGFUL_CHANGE."""
    mic = get_instrument(CCIS).minimal_important_change
    verdict_text = _l(
        "Judged by the minimal important change: CCIS %(points)d points (setting "
        "CCIS_MEANINGFUL_CHANGE; %(source)s). For worsening the same threshold is an "
        "extrapolation: the source established it for improvement only. Empty for the QoLAF-Q, "
        "for which no minimal important change has been published.",
        points=ccis_points or mic.improvement,
        source=mic.citation,
    )
    columns = []
    for reference, what in (
        ("baseline", _l("the baseline total (the baseline timepoint, else the first answers)")),
        ("previous", _l("the total of the answers just before")),
        ("best", _l("the best total before these answers, in the questionnaire's direction")),
    ):
        columns += [
            Column(
                f"{name_prefix}change_from_{reference}",
                "integer",
                _l("This total minus %(what)s; empty when there is none.", what=what),
            ),
            Column(f"{name_prefix}verdict_from_{reference}", "code", verdict_text, VERDICTS),
        ]
    return tuple(columns)
