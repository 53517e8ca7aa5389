"""completion counts: the analytics read kept counts, not every invitation

The completion analytics aggregated every counted invitation of a site on every page view:
13 s at 100,000 patients (docs/performance.md, section 6). They now read counts kept per site,
day and group as invitations change (`completion_counts`, with what each invitation added in
`invitations.counted_as`), the durations of timed completions in index order for the median
(`answer_durations`), and each patient's moment of a second missed timepoint on their summary
(`patient_summaries.second_missed_at`, counted per day too, `missed_two_counted`); the
invitations opening or closing today are read one by one (by the two new indexes). Filled here: the counts by the application's own
`survey.domain.completion_counts.rebuild`, the summaries with the same definition as
`survey.domain.summaries.follow_up_figures`.

Revision ID: d4b8e2a6c913
Revises: c9e4a7b2d1f3
Create Date: 2026-12-02 07:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d4b8e2a6c913"
down_revision = "c9e4a7b2d1f3"
branch_labels = None
depends_on = None

SECOND_MISSED = """
UPDATE patient_summaries SET second_missed_at = (
    SELECT CASE WHEN i.expires_at >= i.opens_at THEN i.expires_at ELSE i.opens_at END AS missed
    FROM invitations i
    WHERE i.patient_id = patient_summaries.patient_id AND i.status = 'open'
    ORDER BY missed
    LIMIT 1 OFFSET 1
)
"""


def upgrade():
    op.create_table(
        "completion_counts",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("figure", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("invitations", sa.Integer(), nullable=False),
        sa.Column("texted", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_completion_counts_site_id_sites")
        ),
        sa.PrimaryKeyConstraint(
            "site_id", "figure", "key", "opens_on", "closes_on", name=op.f("pk_completion_counts")
        ),
    )
    op.create_table(
        "answer_durations",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_answer_durations_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_answer_durations_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_answer_durations")),
    )
    op.create_index(
        "ix_answer_durations_site_seconds",
        "answer_durations",
        ["site_id", "seconds", "opens_at"],
        unique=False,
    )
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("counted_as", sa.JSON(), nullable=True))
        batch.create_index("ix_invitations_opens_at", ["opens_at"], unique=False)
        batch.create_index("ix_invitations_expires_at", ["expires_at"], unique=False)
    with op.batch_alter_table("patient_summaries") as batch:
        batch.add_column(sa.Column("second_missed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("missed_two_counted", sa.JSON(), nullable=True))
        batch.create_index(
            "ix_patient_summaries_second_missed_at", ["second_missed_at"], unique=False
        )
    op.execute(SECOND_MISSED)
    # The application's own definitions (Python: what each invitation adds is worked out
    # from its row, as every later change works it out).
    from survey.domain.completion_counts import rebuild

    rebuild(op.get_bind())


def downgrade():
    with op.batch_alter_table("patient_summaries") as batch:
        batch.drop_index("ix_patient_summaries_second_missed_at")
        batch.drop_column("missed_two_counted")
        batch.drop_column("second_missed_at")
    with op.batch_alter_table("invitations") as batch:
        batch.drop_index("ix_invitations_expires_at")
        batch.drop_index("ix_invitations_opens_at")
        batch.drop_column("counted_as")
    op.drop_index("ix_answer_durations_site_seconds", table_name="answer_durations")
    op.drop_table("answer_durations")
    op.drop_table("completion_counts")
