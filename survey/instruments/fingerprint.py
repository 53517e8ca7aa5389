"""The words a patient sees in one language, and their fingerprint (stored with each response
as proof of the wording shown).

Reads an `Instrument` without importing its module at run time: definition.py calls in here,
so this module must not import it back (no cycle).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from survey.instruments.definition import Instrument


def shown_text(instrument: Instrument, lang: str) -> dict:
    """Everything the patient sees in `lang`, as the dict that wording_hash fingerprints."""
    return {
        "title": instrument.title(lang),
        "instructions": instrument.instructions(lang),
        "recall_period": instrument.recall_period(lang),
        "items": [item.text(lang) for item in instrument.items],
        "options": [
            {"value": option.value, "label": option.label(lang)} for option in instrument.options
        ],
    }


def wording_hash(instrument: Instrument, lang: str) -> str:
    """sha256 hex of shown_text as canonical JSON, stored with each response as proof of wording.

    Canonical JSON is json.dumps(..., sort_keys=True, separators=(",", ":")) with the
    default ASCII escaping, encoded as UTF-8, so any tool can recompute it.
    """
    canonical = json.dumps(shown_text(instrument, lang), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
