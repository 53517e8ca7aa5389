"""rate-limit counts in the database

Rate limits were counted in each worker's memory unless Redis was configured, so with
gunicorn's several workers a limit let through several times what it says (four workers: 40
wrong link guesses a minute where 10 are documented). The counts now live in the service's own
database by default, shared by every worker and every node (survey/security/limit_storage.py).

Revision ID: f3a8c61d2b90
Revises: f3a9c1d7b2e4
Create Date: 2026-12-01 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3a8c61d2b90"
down_revision = "f3a9c1d7b2e4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counters")),
    )
    with op.batch_alter_table("rate_limit_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_counters_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "rate_limit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_entries")),
    )
    with op.batch_alter_table("rate_limit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_entries_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_rate_limit_entries_key_acquired_at", ["key", "acquired_at"], unique=False
        )


def downgrade():
    op.drop_table("rate_limit_entries")
    op.drop_table("rate_limit_counters")
