"""each site's country (ISO 3166-1 alpha-2), the numbering plan of its patients' numbers

Existing sites get none: their staff keep typing numbers in international format until an
admin sets the country (`flask --app wsgi sites edit NAME --country ES`, or the sites page).

Revision ID: c7e2a9d41f60
Revises: d9b1f4c27a68
Create Date: 2026-12-01 19:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c7e2a9d41f60"
down_revision = "d9b1f4c27a68"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("country")
