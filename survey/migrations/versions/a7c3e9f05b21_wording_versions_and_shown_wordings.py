"""wording versions and shown wordings: every response names its wording, every wording is kept

Responses stored the hash of the wording a patient saw but not its version, and staff pages
took item texts from the wording in use today, so after a licensed-wording import older
answers were shown with words their patient never read. Each response now stores the
wording's version, and `shown_wordings` keeps the texts of every wording used, by hash.

Backfill: the wordings the instruments have had here are rebuilt from the shipped
definitions and the stored imports (in import order, as the application applies them); a
response whose hash matches one gets that wording's version and its texts are kept. A
response whose hash matches none (a wording shipped by an earlier release and changed since)
keeps its instrument version as wording version, and the staff pages say that its text is
not on record. Earlier shipped definitions kept in `definitions/retired/` count as shipped.

Revision ID: a7c3e9f05b21
Revises: f3a8c61d2b90
Create Date: 2026-12-02 09:00:00

"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a7c3e9f05b21"
down_revision = "f3a8c61d2b90"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shown_wordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("wording_hash", sa.String(length=64), nullable=False),
        sa.Column("wording_version", sa.String(length=64), nullable=False),
        sa.Column("wording_status", sa.String(length=32), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shown_wordings")),
        sa.UniqueConstraint(
            "instrument_id",
            "language",
            "wording_hash",
            name=op.f("uq_shown_wordings_instrument_id_language_wording_hash"),
        ),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wording_version", sa.String(length=64), nullable=True))
    op.execute("UPDATE responses SET wording_version = instrument_version")
    _backfill(op.get_bind())
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("wording_version", existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("wording_version")
    op.drop_table("shown_wordings")


def _backfill(connection):
    # The instruments package is plain Python (no Flask, no models): the same code that
    # hashed the wordings when the answers were stored.
    from survey.instruments import fingerprint, get_instrument, retired_instruments, shown_text
    from survey.instruments.licensed_wording import wording_states

    responses = sa.table(
        "responses",
        sa.column("instrument_id", sa.String),
        sa.column("language", sa.String),
        sa.column("wording_hash", sa.String),
        sa.column("wording_version", sa.String),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
    )
    imports = sa.table(
        "imported_wordings",
        sa.column("id", sa.Integer),
        sa.column("instrument_id", sa.String),
        sa.column("definition", sa.JSON),
    )
    shown = sa.table(
        "shown_wordings",
        sa.column("instrument_id", sa.String),
        sa.column("language", sa.String),
        sa.column("wording_hash", sa.String),
        sa.column("wording_version", sa.String),
        sa.column("wording_status", sa.String),
        sa.column("texts", sa.JSON),
        sa.column("first_used_at", sa.DateTime(timezone=True)),
    )
    used = connection.execute(
        sa.select(
            responses.c.instrument_id,
            responses.c.language,
            responses.c.wording_hash,
            sa.func.min(responses.c.submitted_at),
        ).group_by(responses.c.instrument_id, responses.c.language, responses.c.wording_hash)
    ).all()
    for instrument_id in sorted({row[0] for row in used}):
        try:
            base = get_instrument(instrument_id)
        except KeyError:
            continue  # not an instrument this release ships: nothing to rebuild it from
        overlays = (
            connection.execute(
                sa.select(imports.c.definition)
                .where(imports.c.instrument_id == instrument_id)
                .order_by(imports.c.id)
            )
            .scalars()
            .all()
        )
        known = {}
        # Earlier shipped wordings kept under definitions/retired/ (CCIS 1.0, whose 4-week
        # window 1.1 removed) explain answers given before they changed.
        for state in [*wording_states(base, overlays), *retired_instruments(instrument_id)]:
            for lang in state.languages:
                known.setdefault((lang, fingerprint.wording_hash(state, lang)), state)
        for row_instrument, lang, wording_hash, first_used in used:
            state = known.get((lang, wording_hash)) if row_instrument == instrument_id else None
            if state is None:
                continue
            if isinstance(first_used, str):  # SQLite hands back text for an aggregate
                first_used = datetime.fromisoformat(first_used)
            if first_used.tzinfo is None:
                first_used = first_used.replace(tzinfo=UTC)
            connection.execute(
                shown.insert().values(
                    instrument_id=instrument_id,
                    language=lang,
                    wording_hash=wording_hash,
                    wording_version=state.wording_version(lang),
                    wording_status=state.wording_status(lang),
                    texts=shown_text(state, lang),
                    first_used_at=first_used,
                )
            )
            connection.execute(
                responses.update()
                .where(
                    responses.c.instrument_id == instrument_id,
                    responses.c.language == lang,
                    responses.c.wording_hash == wording_hash,
                )
                .values(wording_version=state.wording_version(lang))
            )
