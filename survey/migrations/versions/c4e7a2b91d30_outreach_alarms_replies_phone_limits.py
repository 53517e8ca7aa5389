"""outreach: channel alarms, patients' free-text replies, the number each message went to

An account- or sender-level refusal from the SMS provider pauses a site's channel until an
administrator resumes it (channel_alarms); free-text replies wait on Needs attention
(sms_replies); each message keeps the number it went to, so limits count per number across
patients and sites (messages.phone, filled from the patients' current numbers).

Revision ID: c4e7a2b91d30
Revises: c7d2e4f6a8b1
Create Date: 2026-12-01 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4e7a2b91d30"
down_revision = "c7d2e4f6a8b1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "channel_alarms",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_channel_alarms_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", "channel", name=op.f("pk_channel_alarms")),
    )
    op.create_table(
        "sms_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["handled_by_id"], ["users.id"], name=op.f("fk_sms_replies_handled_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sms_replies_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_sms_replies_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
    )
    with op.batch_alter_table("sms_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_replies_patient_id"), ["patient_id"])
        batch_op.create_index(batch_op.f("ix_sms_replies_site_id"), ["site_id"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_phone"), ["phone"])
    # Messages already handed over went to the patient's number of today, as far as we know.
    messages = sa.table(
        "messages",
        sa.column("phone"),
        sa.column("patient_id"),
        sa.column("attempts"),
    )
    patients = sa.table("patients", sa.column("id"), sa.column("phone"))
    op.execute(
        messages.update()
        .where(messages.c.attempts > 0)
        .values(
            phone=sa.select(patients.c.phone)
            .where(patients.c.id == messages.c.patient_id)
            .scalar_subquery()
        )
    )


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_phone"))
        batch_op.drop_column("phone")
    with op.batch_alter_table("sms_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_replies_site_id"))
        batch_op.drop_index(batch_op.f("ix_sms_replies_patient_id"))
    op.drop_table("sms_replies")
    op.drop_table("channel_alarms")
