"""An instrument written back in the definition file format (what loading.py reads)."""

from __future__ import annotations

from survey.instruments.definition import Instrument


def definition_dict(instrument: Instrument) -> dict:
    """The instrument in the file format, fields in the documented order."""
    recall = dict(instrument.recall_periods)
    return {
        "id": instrument.id,
        "version": instrument.version,
        "citation": instrument.citation,
        "languages": list(instrument.languages),
        "wording": {
            lang: {"status": w.status, "note": w.note}
            | ({"version": w.version} if w.version is not None else {})
            for lang, w in instrument.wordings
        },
        "title": instrument.titles.as_dict(),
        "instructions": instrument.instruction_texts.as_dict(),
        "recall_period": None if all(v is None for v in recall.values()) else recall,
        "options": [{"value": o.value, "label": o.labels.as_dict()} for o in instrument.options],
        "items": [{"id": i.id, "text": i.texts.as_dict()} for i in instrument.items],
        "scoring": {"method": instrument.scoring_method},
        "higher_is_worse": instrument.higher_is_worse,
        "minimal_important_change": None
        if (mic := instrument.minimal_important_change) is None
        else {
            "improvement": mic.improvement,
            "deterioration": mic.deterioration,
            "deterioration_extrapolated": mic.deterioration_extrapolated,
            "citation": mic.citation,
        },
        "bands": [
            {"id": b.id, "min": b.min, "max": b.max, "label": b.labels.as_dict()}
            for b in instrument.bands
        ],
        "bands_citation": instrument.bands_citation,
        "subscales": [
            {
                "id": s.id,
                "label": s.labels.as_dict(),
                "items": list(s.item_ids),
                "provisional": s.provisional,
            }
            | ({"note": s.note} if s.note is not None else {})
            for s in instrument.subscales
        ],
        "cutoffs": [
            {
                "id": c.id,
                "min_total": c.min_total,
                "label": c.labels.as_dict(),
                "citation": c.citation,
                "kind": c.kind,
            }
            for c in instrument.cutoffs
        ],
    }
