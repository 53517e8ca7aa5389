"""planned times on the patient's clock: correct closings and reminders planned as fixed durations

Until this revision a window's closing time was its opening plus N x 24 hours, and a reminder
the invitation's send time plus N x 24 hours, so every time after a daylight-saving change in
the patient's zone was an hour off the local time promised. The application now plans them as
local dates and clock times (survey/localtime.py); this revision corrects what is still to
come, with the same rule, and touches nothing that has happened:

- an invitation nothing of which has reached the patient (open, not started, no message
  handed to the provider, still open now) closes at its opening's clock time, the same number
  of calendar days later. Invitations already sent keep their dates, as when an index date
  changes. Openings were already planned on the local clock and do not move.
- a pending reminder never attempted and not held back by the dispatcher (no wait reason: a
  held reminder's time is the dispatcher's, already worked out on the local clock) goes at the
  clock time its invitation was planned to be sent, the same number of calendar days later.
  That send time is the invitation's opening, or the moment of enrolment when the timepoint
  was already open (the reminder's creation time, within milliseconds of it). A reminder that
  would now fall at or after its invitation's closing is cancelled ("expired"), as planning
  would not have made it.

A closing that would move into the past is left alone (no window closes under a patient's
feet during an upgrade). Sent, finished and cancelled rows are never changed. The code below
copies the rule of survey/localtime.py rather than importing it: a migration must keep doing
what it did when it was written. Downgrading leaves the corrected times (they are right).

Revision ID: f3a9c1d7b2e4
Revises: e5b0c2d41a7f
Create Date: 2026-12-02 10:00:00

"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f3a9c1d7b2e4"
down_revision = "e5b0c2d41a7f"
branch_labels = None
depends_on = None

DAY = timedelta(days=1)
STAMP = sa.DateTime(timezone=True)

patients = sa.table("patients", sa.column("id"), sa.column("timezone"))
invitations = sa.table(
    "invitations",
    sa.column("id"),
    sa.column("patient_id"),
    sa.column("status"),
    sa.column("opens_at", STAMP),
    sa.column("expires_at", STAMP),
    sa.column("started_at", STAMP),
)
messages = sa.table(
    "messages",
    sa.column("id"),
    sa.column("invitation_id"),
    sa.column("kind"),
    sa.column("status"),
    sa.column("due_at", STAMP),
    sa.column("wait_reason"),
    sa.column("attempts"),
    sa.column("created_at", STAMP),
    sa.column("finished_at", STAMP),
    sa.column("reason"),
)
message_events = sa.table(
    "message_events",
    sa.column("message_id"),
    sa.column("occurred_at", STAMP),
    sa.column("status"),
    sa.column("source"),
    sa.column("reason"),
)


def _utc(value):
    """Stored timestamps as aware UTC (SQLite hands them back naive, or as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wall(moment, tz):
    return moment.astimezone(tz).replace(tzinfo=None, fold=0)


def _at_wall(wall, tz):
    """The first moment the clock in `tz` shows `wall` or a later time (survey/localtime.py)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC).replace(microsecond=0)
    after = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(before + timedelta(seconds=middle), tz) < wall:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def _zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def upgrade():
    connection = op.get_bind()
    now = datetime.now(UTC)
    attempted = (
        sa.select(messages.c.id)
        .where(messages.c.invitation_id == invitations.c.id, messages.c.attempts > 0)
        .exists()
    )
    corrected_closings = {}  # invitation id -> its corrected closing time
    for row in connection.execute(
        sa.select(
            invitations.c.id,
            invitations.c.opens_at,
            invitations.c.expires_at,
            patients.c.timezone,
        )
        .join(patients, patients.c.id == invitations.c.patient_id)
        .where(
            invitations.c.status == "open",
            invitations.c.started_at.is_(None),
            invitations.c.expires_at > now,
            ~attempted,
        )
    ).all():
        tz = _zone(row.timezone)
        opens, closes = _utc(row.opens_at), _utc(row.expires_at)
        span = closes - opens
        if tz is None or span % DAY or span <= timedelta(0):
            continue  # not planned as a whole number of days
        corrected = _at_wall(_wall(opens, tz) + timedelta(days=span // DAY), tz)
        if corrected != closes and corrected > now:
            connection.execute(
                invitations.update().where(invitations.c.id == row.id).values(expires_at=corrected)
            )
            corrected_closings[row.id] = corrected

    for row in connection.execute(
        sa.select(
            messages.c.id,
            messages.c.invitation_id,
            messages.c.due_at,
            messages.c.created_at,
            invitations.c.opens_at,
            invitations.c.expires_at,
            patients.c.timezone,
        )
        .join(invitations, invitations.c.id == messages.c.invitation_id)
        .join(patients, patients.c.id == invitations.c.patient_id)
        .where(
            invitations.c.status == "open",
            invitations.c.expires_at > now,
            messages.c.kind == "reminder",
            messages.c.status == "pending",
            messages.c.attempts == 0,
            messages.c.wait_reason.is_(None),
        )
    ).all():
        tz = _zone(row.timezone)
        if tz is None:
            continue
        due = _utc(row.due_at)
        sent_from = max(_utc(row.opens_at), _utc(row.created_at))
        # Planned as send time + N x 24 h: the clock time promised is the due time read with
        # the offset in force at the send time.
        offset = sent_from.astimezone(tz).utcoffset()
        corrected = _at_wall(due.replace(tzinfo=None) + offset, tz)
        if corrected == due:
            continue
        closes = corrected_closings.get(row.invitation_id) or _utc(row.expires_at)
        if corrected >= closes:
            connection.execute(
                messages.update()
                .where(messages.c.id == row.id)
                .values(status="cancelled", reason="expired", finished_at=now)
            )
            connection.execute(
                message_events.insert().values(
                    message_id=row.id,
                    occurred_at=now,
                    status="cancelled",
                    source="upgrade",
                    reason="expired",
                )
            )
        else:
            connection.execute(
                messages.update().where(messages.c.id == row.id).values(due_at=corrected)
            )


def downgrade():
    # The corrected times stay: they are the times the patients were promised.
    pass
