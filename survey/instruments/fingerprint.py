"""The words a patient sees in one language, and their fingerprint (stored with each response
as proof of the wording shown).
"""

from __future__ import annotations

import hashlib
import json

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


# Instruments are immutable, so each one's hash per language is worked out once per process
# (every submit stores it twice per questionnaire). Keyed by the object's id, with the object
# kept to tell a reused id apart; emptied when it grows past a few hundred entries (tests load
# many one-off instruments).
_hashes: dict[tuple[int, str], tuple[Instrument, str]] = {}
_HASHES_KEPT = 256


def wording_hash(instrument: Instrument, lang: str) -> str:
    """sha256 hex of shown_text as canonical JSON, stored with each response as proof of wording.

    Canonical JSON is json.dumps(..., sort_keys=True, separators=(",", ":")) with the
    default ASCII escaping, encoded as UTF-8, so any tool can recompute it.
    """
    known = _hashes.get((id(instrument), lang))
    if known is not None and known[0] is instrument:
        return known[1]
    if len(_hashes) >= _HASHES_KEPT:
        _hashes.clear()
    digest = _wording_hash(instrument, lang)
    _hashes[(id(instrument), lang)] = (instrument, digest)
    return digest


def _wording_hash(instrument: Instrument, lang: str) -> str:
    canonical = json.dumps(shown_text(instrument, lang), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
