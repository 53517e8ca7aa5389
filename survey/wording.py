"""The wording in use for each instrument: the shipped text, or the clinic's licensed import."""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.characters import scrub
from survey.instruments import (
    DefinitionError,
    Instrument,
    apply_wording,
    get_instrument,
)
from survey.instruments.wording import wording_overlay
from survey.models import ImportedWording

# Applying an import re-checks a whole definition, too slow to repeat on every patient page:
# each process keeps the result for the newest set of imports of each instrument. The key is
# every import's (id, imported_at), read on each request, so an import made through any node
# shows on the next page everywhere, and emptied or restored tables whose ids start again
# are never taken for the set that was cached. Instruments are immutable: threads share them.
_applied: dict[str, tuple[tuple, Instrument]] = {}


def instrument_in_use(db: Session, instrument_id: str) -> Instrument:
    """The shipped instrument with every imported wording applied, oldest first, so that
    separate imports of different languages add up."""
    return instruments_in_use(db, [instrument_id])[0]


def instruments_in_use(db: Session, instrument_ids: Iterable[str]) -> list[Instrument]:
    """instrument_in_use for several instruments, in their order, with one query."""
    instrument_ids = list(instrument_ids)
    imports: dict[str, list] = {}
    for instrument_id in instrument_ids:
        get_instrument(instrument_id)  # KeyError for an unknown id, before any query
        imports[instrument_id] = []
    rows = db.execute(
        select(ImportedWording.instrument_id, ImportedWording.id, ImportedWording.imported_at)
        .where(ImportedWording.instrument_id.in_(instrument_ids))
        .order_by(ImportedWording.id)
    )
    for instrument_id, import_id, imported_at in rows:
        imports[instrument_id].append((import_id, imported_at))
    return [_with_wording(db, i, tuple(imports[i])) for i in instrument_ids]


def _with_wording(db: Session, instrument_id: str, imports: tuple) -> Instrument:
    instrument = get_instrument(instrument_id)
    if not imports:
        return instrument
    cached = _applied.get(instrument_id)
    if cached is not None and cached[0] == imports:
        return cached[1]
    definitions = db.scalars(
        select(ImportedWording.definition)
        .where(ImportedWording.id.in_([import_id for import_id, _ in imports]))
        .order_by(ImportedWording.id)
    )
    for definition in definitions:
        instrument = apply_wording(instrument, definition)
    _applied[instrument_id] = (imports, instrument)
    return instrument


def import_wording(
    db: Session, data: dict, source_name: str, user_id: int | None = None
) -> Instrument:
    """Check a licensed wording file against the instrument's structure and record it.

    Raises DefinitionError, with nothing stored, when the file does not fit. Stored answers
    and scoring are untouched: only what later patients are shown changes."""
    if not isinstance(data, dict):
        raise DefinitionError("A wording file must hold one JSON object.")
    instrument_id = str(data.get("id", ""))
    try:
        current = instrument_in_use(db, instrument_id)
    except KeyError:
        raise DefinitionError(
            f"There is no instrument with id {instrument_id[:40]!r} to import wording for."
        ) from None
    # Only the wording is kept, so a stored import still applies after a later release
    # corrects anything else in the shipped definition.
    overlay = wording_overlay(current, data)
    imported = apply_wording(current, overlay)
    db.add(
        ImportedWording(
            instrument_id=instrument_id,
            definition=overlay,
            source_name=scrub(source_name, 255) or "?",
            imported_by=user_id,
        )
    )
    return imported
