"""The wording in use for each instrument: the shipped text, or the clinic's licensed import."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.instruments import (
    DefinitionError,
    Instrument,
    apply_wording,
    get_instrument,
)
from survey.instruments.wording import wording_overlay
from survey.models import ImportedWording


def instrument_in_use(db: Session, instrument_id: str) -> Instrument:
    """The shipped instrument with every imported wording applied, oldest first, so that
    separate imports of different languages add up."""
    instrument = get_instrument(instrument_id)
    imports = db.scalars(
        select(ImportedWording.definition)
        .where(ImportedWording.instrument_id == instrument_id)
        .order_by(ImportedWording.id)
    )
    for definition in imports:
        instrument = apply_wording(instrument, definition)
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
            source_name=source_name[:255],
            imported_by=user_id,
        )
    )
    return imported
