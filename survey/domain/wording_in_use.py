"""The wording in use for each instrument (the shipped text, or the clinic's licensed import),
and every wording patients were ever shown, kept by its hash."""

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from survey.characters import scrub
from survey.instruments import (
    DefinitionError,
    Instrument,
    apply_wording,
    get_instrument,
    shown_text,
)
from survey.instruments.licensed_wording import imported_version, wording_overlay, wording_states
from survey.models import ImportedWording, ShownWording

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
    # The last state has every import applied.
    *_, instrument = wording_states(instrument, list(definitions))
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
    if overlay.get("wording_version") is None:
        # Without a version of its own, an import would share the shipped wording's: number it.
        earlier = db.scalar(
            select(func.count())
            .select_from(ImportedWording)
            .where(ImportedWording.instrument_id == instrument_id)
        )
        overlay["wording_version"] = imported_version(current.version, earlier + 1)
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


def keep_shown_wording(db: Session, instrument: Instrument, lang: str) -> None:
    """Record what `instrument` shows in `lang` (once per wording hash), in the caller's
    transaction; called whenever a response is stored, so every wording used is kept."""
    insert = _insert_for(db)(ShownWording).values(
        instrument_id=instrument.id,
        language=lang,
        wording_hash=instrument.wording_hash(lang),
        wording_version=instrument.wording_version(lang),
        wording_status=instrument.wording_status(lang),
        texts=shown_text(instrument, lang),
    )
    # Two patients answering at once with a new wording both try: the first one stands.
    db.execute(
        insert.on_conflict_do_nothing(index_elements=["instrument_id", "language", "wording_hash"])
    )


def shown_wordings(db: Session, keys: Iterable[tuple[str, str, str]]) -> dict:
    """The kept wordings for (instrument id, language, wording hash) keys, by key; a key
    with no kept wording is left out."""
    keys = set(keys)
    if not keys:
        return {}
    rows = db.scalars(
        select(ShownWording).where(
            ShownWording.wording_hash.in_({wording_hash for _, _, wording_hash in keys})
        )
    )
    found = {(row.instrument_id, row.language, row.wording_hash): row for row in rows}
    return {key: found[key] for key in keys if key in found}


def _insert_for(db: Session):
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"keeping wordings is not implemented for {dialect}")
