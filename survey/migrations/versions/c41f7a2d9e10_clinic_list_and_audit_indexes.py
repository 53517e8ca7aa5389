"""clinic list and audit indexes

The patient list reads the latest and baseline response per patient and instrument through
(patient_id, instrument_id, submitted_at); the audit viewer filters by (subject_type, subject_id).

Revision ID: c41f7a2d9e10
Revises: b72065349f07
Create Date: 2026-11-25 19:23:11.418072

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c41f7a2d9e10"
down_revision = "b72065349f07"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_subject", ["subject_type", "subject_id"], unique=False
        )

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_responses_patient_instrument_submitted",
            ["patient_id", "instrument_id", "submitted_at"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index("ix_responses_patient_instrument_submitted")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")
