"""Variable and value labels the labelled exports share: the data dictionary, REDCap, SPSS and
Stata. Everything here is read from the instrument definitions (item texts, answer labels,
bands, subscales) so no label can drift from what patients were shown and how they were scored.

Labelled formats want codes: REDCap choice codes are letters, digits and underscores; SPSS and
Stata value labels belong to numbers. Hence `choice_code` for REDCap and the numeric codes
below for SPSS and Stata, each fixed by the order of a published list, never by the data.
"""

from __future__ import annotations

import re

from flask_babel import gettext

from survey.instruments import SHORT_NAMES, WORDING_STATUSES, Instrument, Subscale
from survey.instruments.change import Verdict

TIMEPOINT_STATUSES = ("completed", "partial", "open", "missed", "cancelled")

# Coded text columns and their codes, in the order the dictionary lists them (export_changes'
# VERDICTS is the same Verdict enum, in order); numbered from 1 for SPSS and Stata.
CODED = {
    "timepoint_status": TIMEPOINT_STATUSES,
    "wording_status": tuple(WORDING_STATUSES),
    "verdict": tuple(str(verdict) for verdict in Verdict),
}


def short_name(instrument: Instrument) -> str:
    return SHORT_NAMES.get(instrument.id, instrument.id)


def choice_code(code: str) -> str:
    """A code REDCap accepts as a choice: "unvalidated translation" -> "unvalidated_translation"."""
    return re.sub(r"[^a-z0-9_]", "_", code.lower())


def numbered(codes: tuple[str, ...]) -> dict[str, int]:
    """Codes as the numbers SPSS and Stata label: 1, 2, ... in the listed order."""
    return {code: number for number, code in enumerate(codes, start=1)}


def item_label(instrument: Instrument, item, lang: str) -> str:
    """`QoLAF-Q 1: <the item's text>`, in `lang`."""
    return f"{short_name(instrument)} {item.number}: {item.text(lang)}"


def option_labels(instrument: Instrument, lang: str) -> dict[int, str]:
    """Each answer's score and the words the patient saw for it."""
    return {option.value: option.label(lang) for option in instrument.options}


def band_codes(instrument: Instrument) -> dict[str, int]:
    """Band ids numbered from 1, best band first as the definition lists them."""
    return numbered(tuple(band.id for band in instrument.bands))


def band_label(band, lang: str) -> str:
    span = f"{band.min}" if band.min == band.max else f"{band.min}-{band.max}"
    return f"{band.label(lang)} ({span})"


def subscale_range(instrument: Instrument, subscale: Subscale) -> tuple[int, int]:
    count = len(subscale.item_ids)
    return count * instrument.options[0].value, count * instrument.options[-1].value


def subscale_text(instrument: Instrument, subscale: Subscale, lang: str) -> str:
    """What a subscale column holds, in the reader's language (needs an app context)."""
    words = {
        "instrument": short_name(instrument),
        "subscale": subscale.label(lang),
        "items": ", ".join(subscale.item_ids),
    }
    if subscale.provisional:
        return gettext(
            "%(instrument)s %(subscale)s: sum of items %(items)s (provisional item mapping)",
            **words,
        )
    return gettext("%(instrument)s %(subscale)s: sum of items %(items)s", **words)


def subscales_of_item(instrument: Instrument, item_id: str) -> tuple[Subscale, ...]:
    return tuple(s for s in instrument.subscales if item_id in s.item_ids)
