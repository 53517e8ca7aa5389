"""REDCap: a data dictionary in REDCap's import format and a data file that imports with it.

A REDCap project built from the dictionary has one instrument per questionnaire (`qolaf_q`,
`ccis`) and one, `timepoint`, for the timepoint itself; the record is the patient and each
timepoint is an event (`redcap_event_name`), so the project is longitudinal with every
instrument on every event. Field names are the wide CSV's column names: lowercase letters,
digits and underscores, starting with a letter, at most 26 characters (REDCap warns beyond).
Changes against baseline/previous/best are left out: REDCap computes its own.

The data file is the wide export's rows, one per patient and timepoint, streamed like it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from flask_babel import gettext
from sqlalchemy.orm import Session

from survey.clinic import export_labels as labels
from survey.clinic.export_columns import prefix, wide_columns
from survey.clinic.exports import ExportScope, wide_rows
from survey.i18n import language_name
from survey.instruments import WORDING_STATUSES, Instrument, shipped_languages

# REDCap's data dictionary columns, exactly as its "Upload data dictionary" expects them.
DICTIONARY_HEADER = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 26  # REDCap recommends no longer
RECORD_ID = "record_id"
TIMEPOINT_FORM = "timepoint"
TIMEPOINT_FIELDS = ("site", "index_date", "timepoint_id", "timepoint_opens_at", "timepoint_status")
RESPONSE_FIELDS = (
    "response_id",
    "submitted_at",
    "days_since_index",
    "language",
    "instrument_version",
    "wording_version",
    "wording_status",
    "wording_hash",
    "total",
)
COMPLETE = "2"  # REDCap's form status "Complete"


def event_name(timepoint: str) -> str:
    """REDCap's unique event name for a timepoint label, as REDCap derives it from the event's
    name in arm 1: "3 months" -> "3_months_arm_1"."""
    slug = re.sub(r"[^a-z0-9]+", "_", timepoint.lower()).strip("_")[:18].rstrip("_")
    return f"{slug or 'event'}_arm_1"


def record_id(site_id: int | str, reference: str) -> str:
    """One record per patient; references are unique within a site, so the site comes first."""
    return f"{site_id}-{reference}"


def form_name(instrument: Instrument) -> str:
    return prefix(instrument)


def _choices(pairs: Iterable[tuple[object, str]]) -> str:
    return " | ".join(f"{code}, {label}" for code, label in pairs)


def _field(name: str, form: str, kind: str, label: str, **more: str) -> dict[str, str]:
    return {"Variable / Field Name": name, "Form Name": form, "Field Type": kind,
            "Field Label": label, **more}  # fmt: skip


def _integer(name, form, label, low, high, **more) -> dict[str, str]:
    return _field(
        name,
        form,
        "text",
        label,
        **{
            "Text Validation Type OR Show Slider Number": "integer",
            "Text Validation Min": "" if low is None else str(low),
            "Text Validation Max": "" if high is None else str(high),
        },
        **more,
    )


def _datetime(name, form, label) -> dict[str, str]:
    return _field(
        name,
        form,
        "text",
        label,
        **{"Text Validation Type OR Show Slider Number": "datetime_seconds_ymd"},
        **{"Field Note": gettext("UTC")},
    )


def dictionary_fields(instruments: Iterable[Instrument], lang: str) -> list[dict[str, str]]:
    """Every field of the project, record id first, as rows keyed by DICTIONARY_HEADER."""
    described = {column.name: str(column.description) for column in wide_columns(instruments)}
    form = TIMEPOINT_FORM
    fields = [
        _field(
            RECORD_ID,
            form,
            "text",
            gettext("Patient: site number and the site's reference"),
            **{"Identifier?": "y"},
        ),
        _field("site", form, "text", described["site"]),
        _field(
            "index_date",
            form,
            "text",
            described["index_date"],
            **{"Text Validation Type OR Show Slider Number": "date_ymd", "Identifier?": "y"},
        ),
        _integer("timepoint_id", form, described["timepoint_id"], None, None),
        _datetime("timepoint_opens_at", form, described["timepoint_opens_at"]),
        _field(
            "timepoint_status",
            form,
            "dropdown",
            described["timepoint_status"],
            **{
                "Choices, Calculations, OR Slider Labels": _choices(
                    (code, code) for code in labels.TIMEPOINT_STATUSES
                )
            },
        ),  # fmt: skip
    ]
    for instrument in instruments:
        p, form = prefix(instrument), form_name(instrument)
        section = f"{instrument.title(lang)}. {instrument.citation}"
        fields += [
            _integer(
                f"{p}_response_id",
                form,
                described[f"{p}_response_id"],
                None,
                None,
                **{"Section Header": section},
            ),  # fmt: skip
            _datetime(f"{p}_submitted_at", form, described[f"{p}_submitted_at"]),
            _integer(f"{p}_days_since_index", form, described[f"{p}_days_since_index"], None, None),
            _field(
                f"{p}_language",
                form,
                "dropdown",
                described[f"{p}_language"],
                **{
                    "Choices, Calculations, OR Slider Labels": _choices(
                        (code, language_name(code)) for code in shipped_languages()
                    )
                },
            ),  # fmt: skip
            _field(f"{p}_instrument_version", form, "text", described[f"{p}_instrument_version"]),
            _field(f"{p}_wording_version", form, "text", described[f"{p}_wording_version"]),
            _field(
                f"{p}_wording_status",
                form,
                "dropdown",
                described[f"{p}_wording_status"],
                **{
                    "Choices, Calculations, OR Slider Labels": _choices(
                        (labels.choice_code(code), code) for code in WORDING_STATUSES
                    )
                },
            ),  # fmt: skip
            _field(f"{p}_wording_hash", form, "text", described[f"{p}_wording_hash"]),
            _integer(
                f"{p}_total",
                form,
                described[f"{p}_total"],
                instrument.min_total,
                instrument.max_total,
            ),
        ]
        if instrument.bands:
            fields.append(
                _field(
                    f"{p}_band",
                    form,
                    "dropdown",
                    described[f"{p}_band"],
                    **{
                        "Choices, Calculations, OR Slider Labels": _choices(
                            (labels.choice_code(b.id), labels.band_label(b, lang))
                            for b in instrument.bands
                        )
                    },
                )  # fmt: skip
            )
        for subscale in instrument.subscales:
            low, high = labels.subscale_range(instrument, subscale)
            fields.append(
                _integer(
                    f"{p}_{subscale.id}",
                    form,
                    labels.subscale_text(instrument, subscale, lang),
                    low,
                    high,
                )
            )
        options = _choices(labels.option_labels(instrument, lang).items())
        for item in instrument.items:
            others = " | ".join(
                f"{other}: {item.text(other)}" for other in instrument.languages if other != lang
            )
            fields.append(
                _field(
                    f"{p}_item_{item.id}",
                    form,
                    "radio",
                    item.text(lang),
                    **{
                        "Choices, Calculations, OR Slider Labels": options,
                        "Required Field?": "y",
                        "Question Number (surveys only)": str(item.number),
                        "Field Annotation": others,
                    },
                )
            )
    return fields


def dictionary_rows(instruments: Iterable[Instrument], lang: str) -> Iterator[list[str]]:
    for field in dictionary_fields(instruments, lang):
        yield [field.get(column, "") for column in DICTIONARY_HEADER]


def data_header(instruments: Iterable[Instrument]) -> list[str]:
    header = [RECORD_ID, "redcap_event_name", *TIMEPOINT_FIELDS, f"{TIMEPOINT_FORM}_complete"]
    for instrument in instruments:
        p = prefix(instrument)
        header += [f"{p}_{name}" for name in RESPONSE_FIELDS]
        if instrument.bands:
            header.append(f"{p}_band")
        header += [f"{p}_{subscale.id}" for subscale in instrument.subscales]
        header += [f"{p}_item_{item.id}" for item in instrument.items]
        header.append(f"{form_name(instrument)}_complete")
    return header


def _value(value):
    """A cell as REDCap imports it: datetimes as `YYYY-MM-DD HH:MM:SS` UTC, codes as choices."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


CODED_SUFFIXES = ("_wording_status", "_band")


def data_rows(
    db: Session,
    scope: ExportScope,
    now: datetime,
    instruments: tuple[Instrument, ...],
    site_ids: dict[str, int],
) -> Iterator[list]:
    """One row per patient and timepoint, in data_header() order (`site_ids`: site name -> id,
    for the record id)."""
    names = [column.name for column in wide_columns(instruments)]
    header = data_header(instruments)
    for row in wide_rows(db, scope, now):
        cells = dict(zip(names, row, strict=True))
        cells[RECORD_ID] = record_id(site_ids[cells["site"]], cells["patient_reference"])
        cells["redcap_event_name"] = event_name(cells["timepoint"])
        cells[f"{TIMEPOINT_FORM}_complete"] = COMPLETE
        for instrument in instruments:
            p = prefix(instrument)
            answered = cells[f"{p}_response_id"] is not None
            cells[f"{form_name(instrument)}_complete"] = COMPLETE if answered else None
            for suffix in CODED_SUFFIXES:
                if cells.get(p + suffix) is not None:
                    cells[p + suffix] = labels.choice_code(cells[p + suffix])
        yield [_value(cells[name]) for name in header]
