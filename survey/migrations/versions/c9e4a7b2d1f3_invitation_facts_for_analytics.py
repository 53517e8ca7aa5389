"""invitation facts for the completion analytics: first text, reminders before answers, mode

The analytics worked out per invitation, on every page view, its first text and reminders
(aggregating every text), its way of answering (aggregating its responses) and whether a
clinic tablet opened it: most of the query's time, growing with every site's history. Each
invitation now keeps them (survey/domain/analytics.py writes them as texts go, answers arrive and
tablet codes are used); filled here with the same definitions.

Revision ID: c9e4a7b2d1f3
Revises: b3f1d2c4e5a6
Create Date: 2026-12-02 03:55:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c9e4a7b2d1f3"
down_revision = "b3f1d2c4e5a6"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE invitations SET
    first_text_at = (SELECT min(m.sent_at) FROM messages m
                     WHERE m.invitation_id = invitations.id AND m.sent_at IS NOT NULL),
    reminders_before = (SELECT count(m.id) FROM messages m
                        WHERE m.invitation_id = invitations.id AND m.kind = 'reminder'
                        AND m.sent_at IS NOT NULL AND m.sent_at < invitations.completed_at),
    answer_mode = COALESCE(
        (SELECT min(r.mode) FROM responses r WHERE r.invitation_id = invitations.id),
        CASE WHEN EXISTS (SELECT 1 FROM tablet_handoffs t
                          WHERE t.invitation_id = invitations.id AND t.used_at IS NOT NULL)
             THEN 'tablet' ELSE 'web' END)
"""


def upgrade():
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("first_text_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("reminders_before", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("answer_mode", sa.String(length=8), server_default="web", nullable=False)
        )
    op.execute(BACKFILL)


def downgrade():
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("answer_mode")
        batch.drop_column("reminders_before")
        batch.drop_column("first_text_at")
