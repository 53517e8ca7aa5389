"""triage worklist, contact requests and each site's triage settings

Every answered timepoint gets one triage item (level, evidence, and its way through the
worklist); a patient may ask to be contacted at the end of an invitation; each site may
override the shipped triage rules. Answers stored before this revision get no item: assessing
years of history at once would fill the worklist with alerts nobody can act on any more
(`flask --app wsgi triage catch-up --days N` assesses recent ones on purpose).

Revision ID: f3a8c61d2b57
Revises: b8d4f0a16c32
Create Date: 2026-12-01 16:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f3a8c61d2b57"
down_revision = "b8d4f0a16c32"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "triage_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_triage_items_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_triage_items_closed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_triage_items_invitation_id_invitations"),
        ),
        sa.ForeignKeyConstraint(
            ["outcome_by_id"], ["users.id"], name=op.f("fk_triage_items_outcome_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_triage_items_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_triage_items_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_items")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_triage_items_invitation_id")),
    )
    with op.batch_alter_table("triage_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_items_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_triage_items_worklist", ["site_id", "status", "due_at"], unique=False
        )

    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_contact_requests_invitation_id_invitations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_contact_requests_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_requests")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_contact_requests_invitation_id")),
    )
    with op.batch_alter_table("contact_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_requests_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "triage_settings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("due_hours", sa.JSON(), nullable=False),
        sa.Column("contact_reply", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_triage_settings_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_triage_settings_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_triage_settings")),
    )


def downgrade():
    op.drop_table("triage_settings")
    with op.batch_alter_table("contact_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_requests_patient_id"))
    op.drop_table("contact_requests")
    with op.batch_alter_table("triage_items", schema=None) as batch_op:
        batch_op.drop_index("ix_triage_items_worklist")
        batch_op.drop_index(batch_op.f("ix_triage_items_patient_id"))
    op.drop_table("triage_items")
