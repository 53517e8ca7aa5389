"""summaries: previous and best totals, changes against baseline and previous, provisional

The list compared every figure with baseline only, so a relapse (51/10 -> 28/0 -> 51/10)
read "no change". Each patient's summary now also holds, per questionnaire, the total just
before the latest, the best total before the latest, the change against baseline and against
previous (indexed both ways, for the list's sorts), and whether the latest, baseline and
previous answers were given to provisional wording. A change is NULL while the latest answers
are the only ones (it used to read 0). Filled here with the rules of survey/domain/summaries.py;
both shipped instruments declare that a higher total is worse, so the best is the lowest.

Revision ID: b8d4f0a16c32
Revises: a7c3e9f05b21
Create Date: 2026-12-02 09:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b8d4f0a16c32"
down_revision = "a7c3e9f05b21"
branch_labels = None
depends_on = None

INSTRUMENTS = {"qolaf": "qolaf-q", "ccis": "ccis"}
NEW_INTEGERS = ("previous", "best", "change_previous")
NEW_FLAGS = ("provisional", "baseline_provisional", "previous_provisional")
SORTED_BY = ("qolaf_change", "qolaf_change_previous", "ccis_change_previous")


def _latest(instrument, column="total", offset=0):
    return (
        f"(SELECT r.{column} FROM responses r WHERE r.patient_id = s.patient_id "  # noqa: S608
        f"AND r.instrument_id = '{instrument}' ORDER BY r.submitted_at DESC, r.id DESC "
        f"LIMIT 1 OFFSET {offset})"
    )


def _baseline(instrument, column="total"):
    return (
        f"COALESCE((SELECT r.{column} FROM responses r JOIN invitations i "  # noqa: S608
        f"ON i.id = r.invitation_id WHERE i.patient_id = s.patient_id "
        f"AND i.timepoint = 'baseline' AND r.instrument_id = '{instrument}' "
        f"ORDER BY r.submitted_at, r.id LIMIT 1), "
        f"(SELECT r.{column} FROM responses r WHERE r.patient_id = s.patient_id "
        f"AND r.instrument_id = '{instrument}' ORDER BY r.submitted_at, r.id LIMIT 1))"
    )


def _best(instrument):
    return (
        f"(SELECT min(r.total) FROM responses r WHERE r.patient_id = s.patient_id "  # noqa: S608
        f"AND r.instrument_id = '{instrument}' AND r.id <> {_latest(instrument, 'id')})"
    )


def _assignments(p, instrument):
    single = f"{_latest(instrument, 'id')} = {_baseline(instrument, 'id')}"
    return [
        f"{p}_previous = {_latest(instrument, offset=1)}",
        f"{p}_best = {_best(instrument)}",
        f"{p}_change = CASE WHEN {single} THEN NULL "
        f"ELSE {_latest(instrument)} - {_baseline(instrument)} END",
        f"{p}_change_previous = {_latest(instrument)} - {_latest(instrument, offset=1)}",
        f"{p}_provisional = {_latest(instrument, 'wording_status')} = 'provisional'",
        f"{p}_baseline_provisional = {_baseline(instrument, 'wording_status')} = 'provisional'",
        f"{p}_previous_provisional = "
        f"{_latest(instrument, 'wording_status', offset=1)} = 'provisional'",
    ]


# Built from this file's constants only, never from input.
BACKFILL = "UPDATE patient_summaries AS s SET " + ", ".join(  # noqa: S608
    assignment
    for p, instrument in INSTRUMENTS.items()
    for assignment in _assignments(p, instrument)
)


def upgrade():
    with op.batch_alter_table("patient_summaries", schema=None) as batch_op:
        for p in INSTRUMENTS:
            for name in NEW_INTEGERS if p == "ccis" else ("change", *NEW_INTEGERS):
                batch_op.add_column(sa.Column(f"{p}_{name}", sa.Integer(), nullable=True))
            for name in NEW_FLAGS:
                batch_op.add_column(sa.Column(f"{p}_{name}", sa.Boolean(), nullable=True))
    op.execute(BACKFILL)
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in SORTED_BY:
        op.create_index(f"ix_patient_summaries_{name}", "patient_summaries", [name, "patient_id"])
        op.create_index(
            f"ix_patient_summaries_{name}_desc",
            "patient_summaries",
            [sa.text(f"{name} DESC" + (" NULLS LAST" if postgresql else "")), "patient_id"],
        )


def downgrade():
    for name in SORTED_BY:
        op.drop_index(f"ix_patient_summaries_{name}_desc", table_name="patient_summaries")
        op.drop_index(f"ix_patient_summaries_{name}", table_name="patient_summaries")
    with op.batch_alter_table("patient_summaries", schema=None) as batch_op:
        for p in INSTRUMENTS:
            for name in (
                (*NEW_INTEGERS, *NEW_FLAGS)
                if p == "ccis"
                else ("change", *NEW_INTEGERS, *NEW_FLAGS)
            ):
                batch_op.drop_column(f"{p}_{name}")
    # The earlier revision's ccis_change read 0 for a single response.
    op.execute(
        "UPDATE patient_summaries SET ccis_change = 0 WHERE ccis_single AND ccis_latest IS NOT NULL"
    )
