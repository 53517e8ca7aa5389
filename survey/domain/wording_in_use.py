"""The wording in use for each instrument (the shipped text, or the clinic's licensed import),
and every wording patients were ever shown, kept by its hash."""

from collections.abc import Iterable

from sqlalchemy import event, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, scoped_session

from survey.characters import scrub
from survey.instruments import (
    DefinitionError,
    Instrument,
    apply_wording,
    fingerprint,
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
    """instrument_in_use for several instruments, in their order, with at most one query per
    transaction (`import_keys`)."""
    instrument_ids = list(instrument_ids)
    for instrument_id in instrument_ids:
        get_instrument(instrument_id)  # KeyError for an unknown id, before any query
    keys = import_keys(db)
    return [_with_wording(db, i, keys.get(i, ())) for i in instrument_ids]


# Where a transaction's import keys are kept: in the session's info, with the transaction
# they were read in (a page reads them for its languages and again for its questionnaires).
_KEYS = "survey_wording_import_keys"


def import_keys(db: Session) -> dict[str, tuple]:
    """Every instrument's imports as ((id, imported_at), ...), oldest first: read once per
    transaction (a commit, e.g. after an import, makes the next call read them again)."""
    db = _plain(db)
    transaction = db.get_transaction()
    kept = db.info.get(_KEYS)
    if (
        transaction is not None
        and kept is not None
        and kept[0] is transaction
        and not any(isinstance(o, ImportedWording) for o in (*db.new, *db.deleted, *db.dirty))
    ):
        return kept[1]
    rows = db.execute(
        select(
            ImportedWording.instrument_id, ImportedWording.id, ImportedWording.imported_at
        ).order_by(ImportedWording.id)
    ).all()
    return remember_import_keys(db, rows)


@event.listens_for(Session, "after_flush")
def _forget_keys_after_an_import(db: Session, flush_context) -> None:
    """An import flushed in this transaction: the next call reads the keys again."""
    if any(isinstance(o, ImportedWording) for o in (*db.new, *db.deleted, *db.dirty)):
        db.info.pop(_KEYS, None)


def _plain(db) -> Session:
    """The session itself, where a caller passes Flask-SQLAlchemy's scoped session."""
    return db() if isinstance(db, scoped_session) else db


def import_keys_rows():
    """The columns `remember_import_keys` takes, for a caller that reads them in a statement
    of its own (the patient page reads everything it needs in one)."""
    return select(
        ImportedWording.instrument_id, ImportedWording.id, ImportedWording.imported_at
    ).order_by(ImportedWording.id)


def remember_import_keys(db: Session, rows) -> dict[str, tuple]:
    """Keep (instrument id, import id, imported at) rows as this transaction's import keys."""
    keys: dict[str, list] = {}
    for instrument_id, import_id, imported_at in rows:
        keys.setdefault(instrument_id, []).append((import_id, imported_at))
    frozen = {instrument_id: tuple(pairs) for instrument_id, pairs in keys.items()}
    db = _plain(db)
    db.info[_KEYS] = (db.get_transaction(), frozen)
    return frozen


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
    keep_shown_wordings(db, [instrument], lang)


def keep_shown_wordings(db: Session, instruments: list[Instrument], lang: str) -> None:
    """keep_shown_wording for several instruments, in one statement."""
    insert = upsert_for(db)(ShownWording).values(
        [
            {
                "instrument_id": instrument.id,
                "language": lang,
                "wording_hash": fingerprint.wording_hash(instrument, lang),
                "wording_version": instrument.wording_version(lang),
                "wording_status": instrument.wording_status(lang),
                "texts": shown_text(instrument, lang),
            }
            for instrument in instruments
        ]
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


def upsert_for(db: Session):
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL and SQLite alike)."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"ON CONFLICT inserts are not implemented for {dialect}")
