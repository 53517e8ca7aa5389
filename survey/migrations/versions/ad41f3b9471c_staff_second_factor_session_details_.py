"""staff second factor, session details, insert-only audit trail

Staff get an optional TOTP second factor (which an admin can require), a record of when their
password last changed, and sessions that show where and in which browser they were opened. On
PostgreSQL a trigger refuses UPDATE and DELETE on audit_events, whatever the client: the
application's ORM guard only covers the application. TRUNCATE (used by the test suite to empty
tables, and only ever by an operator) is not a row operation and is not blocked.

Revision ID: ad41f3b9471c
Revises: 89489dfad868
Create Date: 2026-11-25 20:13:09.728809

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "ad41f3b9471c"
down_revision = "89489dfad868"
branch_labels = None
depends_on = None

INSERT_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is insert-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
INSERT_ONLY_TRIGGER = """
CREATE TRIGGER audit_events_insert_only
BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_insert_only()
"""


def upgrade():
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_addr", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("totp_candidate", sa.String(length=64), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("totp_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(INSERT_ONLY_FUNCTION)
        op.execute(INSERT_ONLY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_insert_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_insert_only()")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_required")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("password_changed_at")

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_column("totp_candidate")
        batch_op.drop_column("user_agent")
        batch_op.drop_column("remote_addr")
