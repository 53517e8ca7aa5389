"""episodes of care: several index dates per patient, each with its own schedule

Every existing patient gets one episode (number 1) holding their current index date and
schedule, started when they were enrolled; every existing invitation (and through it every
response) belongs to it.

Revision ID: e8a4c2f17b35
Revises: d81b4e6a2c93
Create Date: 2026-12-01 22:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e8a4c2f17b35"
down_revision = "d81b4e6a2c93"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("index_date", sa.Date(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=60), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_episodes_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_episodes_schedule_id_schedules")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["users.id"], name=op.f("fk_episodes_started_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
        sa.UniqueConstraint("patient_id", "number", name=op.f("uq_episodes_patient_id_number")),
    )
    op.create_index(op.f("ix_episodes_patient_id"), "episodes", ["patient_id"], unique=False)
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("episode_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_invitations_episode_id"), ["episode_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_invitations_episode_id_episodes"), "episodes", ["episode_id"], ["id"]
        )
    op.execute(
        "INSERT INTO episodes (patient_id, number, index_date, schedule_id, started_at) "
        "SELECT id, 1, index_date, schedule_id, created_at FROM patients"
    )
    op.execute(
        "UPDATE invitations SET episode_id = "
        "(SELECT episodes.id FROM episodes WHERE episodes.patient_id = invitations.patient_id)"
    )


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_invitations_episode_id_episodes"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_invitations_episode_id"))
        batch_op.drop_column("episode_id")
    op.drop_index(op.f("ix_episodes_patient_id"), table_name="episodes")
    op.drop_table("episodes")
