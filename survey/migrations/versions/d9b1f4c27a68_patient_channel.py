"""patients.channel: texts by SMS (the default) or WhatsApp

Revision ID: d9b1f4c27a68
Revises: c4e7a2b91d30
Create Date: 2026-12-01 19:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d9b1f4c27a68"
down_revision = "c4e7a2b91d30"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), server_default="sms", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("channel")
