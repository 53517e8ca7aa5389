"""how each response was given and by whom, tablet handoff codes, patients' own results

Every response records its mode (web, tablet, paper, phone) and the member of staff who
entered it (none when the patient answered themself); responses stored before this revision
were all typed by patients on their own phones, so they are `web`. A coordinator can hand a
clinic tablet one patient's invitation with a short single-use code (only its hash is kept).
Each site chooses whether patients see their own totals after sending (off by default).

Revision ID: c7d2e4f6a8b1
Revises: f3a8c61d2b57
Create Date: 2026-12-01 19:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c7d2e4f6a8b1"
down_revision = "f3a8c61d2b57"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=8), server_default="web", nullable=False)
        )
        batch_op.add_column(sa.Column("entered_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_responses_entered_by_id_users"), "users", ["entered_by_id"], ["id"]
        )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("patient_results", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "tablet_handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_tablet_handoffs_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_tablet_handoffs_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tablet_handoffs")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_tablet_handoffs_code_hash")),
    )
    with op.batch_alter_table("tablet_handoffs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tablet_handoffs_invitation_id"), ["invitation_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("tablet_handoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablet_handoffs_invitation_id"))
    op.drop_table("tablet_handoffs")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("patient_results")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_responses_entered_by_id_users"), type_="foreignkey")
        batch_op.drop_column("entered_by_id")
        batch_op.drop_column("mode")
