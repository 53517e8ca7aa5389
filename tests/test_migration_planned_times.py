"""Migration f3a9c1d7b2e4 corrects the closings and reminders planned as fixed durations.

A database is built up to the revision before it, filled with rows exactly as the old planning
wrote them (closing = opening + N x 24 h, reminder = send time + N x 24 h) around the
daylight-saving changes of 2031, then upgraded: what is still to come moves to the promised
local time, and what has been sent or has finished is left exactly as it was."""

import os
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import flask_migrate
import pytest
import sqlalchemy as sa

from survey import config
from survey.extensions import db
from survey.localtime import format_local, local_moment
from tests.conftest import make_app

BEFORE = "e5b0c2d41a7f"
MADRID, NEW_YORK, AUCKLAND = "Europe/Madrid", "America/New_York", "Pacific/Auckland"
CREATED = datetime(2031, 1, 10, 12, tzinfo=UTC)  # enrolled long before the timepoints open


@pytest.fixture
def old_database(tmp_path):
    """A database of its own (SQLite file, or a PostgreSQL schema) at the revision before."""
    server = os.environ.get("SURVEY_TEST_DATABASE_URL")
    schema = f"migration_{os.getpid()}"
    if server:
        engine = sa.create_engine(config.database_uri(None, server))
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in server else "?"
        url = f"{server}{separator}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    app = make_app(url)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()
    if server:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


class OldRows:
    """Rows written the way the planning before this revision wrote them."""

    def __init__(self, connection):
        self.connection = connection
        self.tables = sa.MetaData()
        self.tables.reflect(bind=connection)
        self.site = self._insert(
            "sites",
            name="Test site",
            timezone=MADRID,
            default_language="es",
            contact="",
            created_at=CREATED,
        )
        self.patients = {}

    def _insert(self, table, **values):
        return self.connection.execute(
            self.tables.tables[table].insert().values(**values)
        ).inserted_primary_key[0]

    def patient(self, zone):
        if zone not in self.patients:
            self.patients[zone] = self._insert(
                "patients",
                site_id=self.site,
                reference=f"P-{zone}",
                phone="+34612345678",
                language="en",
                timezone=zone,
                status="active",
                created_at=CREATED,
            )
        return self.patients[zone]

    def invitation(self, zone, opens_at, window_days, status="open", started_at=None):
        return self._insert(
            "invitations",
            patient_id=self.patient(zone),
            timepoint="tp",
            instrument_ids=["ccis"],
            opens_at=opens_at,
            expires_at=opens_at + timedelta(days=window_days),  # old rule
            status=status,
            created_at=CREATED,
            started_at=started_at,
        )

    def message(self, zone, invitation, kind, due_at, status="pending", created_at=CREATED, **more):
        return self._insert(
            "messages",
            patient_id=self.patient(zone),
            invitation_id=invitation,
            kind=kind,
            status=status,
            due_at=due_at,
            attempts=more.pop("attempts", 0),
            created_at=created_at,
            **more,
        )

    def reminders(self, zone, invitation, sent_at, days, created_at=CREATED):
        """Reminders planned the old way: the send time plus N x 24 hours."""
        return [
            self.message(
                zone, invitation, "reminder", sent_at + timedelta(days=n), created_at=created_at
            )
            for n in days
        ]


def at(zone, *args) -> datetime:
    wall = datetime(*args)
    return local_moment(wall.date(), wall.time(), zone)


def snapshot(connection, table, row_id) -> dict:
    tables = sa.MetaData()
    tables.reflect(bind=connection, only=[table])
    target = tables.tables[table]
    row = connection.execute(sa.select(target).where(target.c.id == row_id)).mappings().one()
    return dict(row)


def stamp(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_the_upgrade_moves_what_is_still_planned_to_the_promised_local_time(old_database):
    with db.engine.begin() as connection:
        old = OldRows(connection)
        # 1. Madrid, spring: opens five days before the change, nothing sent yet.
        spring_opens = at(MADRID, 2031, 3, 25, 9)
        spring = old.invitation(MADRID, spring_opens, 14)
        spring_first = old.message(MADRID, spring, "invitation", spring_opens)
        spring_reminders = old.reminders(MADRID, spring, spring_opens, (3, 7, 10))
        # 2. Madrid, autumn: enrolled at 14:15:30.25 with the timepoint already open, so the
        #    invitation went "now" and its reminders count from then.
        enrolled = at(MADRID, 2031, 10, 22, 14, 15, 30, 250000)
        autumn = old.invitation(MADRID, at(MADRID, 2031, 10, 20, 9), 14)
        autumn_reminders = old.reminders(
            MADRID, autumn, enrolled, (3, 7), created_at=enrolled + timedelta(milliseconds=37)
        )
        # 3. Auckland, spring (September).
        auckland_opens = at(AUCKLAND, 2031, 9, 25, 9)
        auckland = old.invitation(AUCKLAND, auckland_opens, 7)
        auckland_reminders = old.reminders(AUCKLAND, auckland, auckland_opens, (4,))
        # 4. Made by hand at 16:45, two weeks, no reminders.
        by_hand = old.invitation(MADRID, at(MADRID, 2031, 3, 27, 16, 45), 14)

        # 5. New York, autumn, already sent: the invitation keeps its dates; its pending
        #    reminders move, except one the dispatcher holds for quiet hours.
        sent_opens = at(NEW_YORK, 2031, 10, 28, 9)
        sent = old.invitation(NEW_YORK, sent_opens, 14)
        sent_first = old.message(
            NEW_YORK,
            sent,
            "invitation",
            sent_opens,
            status="delivered",
            attempts=1,
            sent_at=sent_opens,
            claimed_at=sent_opens,
            finished_at=sent_opens,
        )
        sent_reminders = old.reminders(NEW_YORK, sent, sent_opens, (3, 7))
        held = old.message(
            NEW_YORK, sent, "reminder", at(NEW_YORK, 2031, 11, 8, 9), wait_reason="quiet_hours"
        )
        # 6. New York, sent at 08:30 the day after opening, reminded 13 days later: on the
        #    clock that is 08:30 EST, past the (kept) closing at 08:00 EST, so it is cancelled.
        late_opens = at(NEW_YORK, 2031, 10, 28, 9)
        late = old.invitation(NEW_YORK, late_opens, 14)
        late_sent = at(NEW_YORK, 2031, 10, 29, 8, 30)
        old.message(
            NEW_YORK,
            late,
            "invitation",
            late_sent,
            status="queued",
            attempts=1,
            sent_at=late_sent,
            claimed_at=late_sent,
        )
        [too_late] = old.reminders(
            NEW_YORK, late, late_sent, (13,), created_at=late_sent + timedelta(milliseconds=10)
        )

        # 7. Finished: answered across the spring change, with a reminder cancelled then.
        done_opens = at(MADRID, 2031, 3, 26, 9)
        done = old.invitation(
            MADRID, done_opens, 14, status="completed", started_at=done_opens + timedelta(days=1)
        )
        done_first = old.message(
            MADRID,
            done,
            "invitation",
            done_opens,
            status="delivered",
            attempts=1,
            sent_at=done_opens,
            finished_at=done_opens,
        )
        done_reminder = old.message(
            MADRID,
            done,
            "reminder",
            done_opens + timedelta(days=7),
            status="cancelled",
            reason="completed",
            finished_at=done_opens + timedelta(days=1),
        )
        # 8. An invitation that closed long ago, never sent.
        gone_opens = at(MADRID, 2020, 10, 20, 9)
        gone = old.invitation(MADRID, gone_opens, 14)
        [gone_reminder] = old.reminders(MADRID, gone, gone_opens, (7,), created_at=gone_opens)

        kept = {
            ("invitations", row): snapshot(connection, "invitations", row)
            for row in (sent, late, done, gone)
        } | {
            ("messages", row): snapshot(connection, "messages", row)
            for row in (spring_first, sent_first, held, done_first, done_reminder, gone_reminder)
        }

    flask_migrate.upgrade()

    with db.engine.connect() as connection:

        def closes(invitation, zone):
            return format_local(
                stamp(snapshot(connection, "invitations", invitation)["expires_at"]), zone
            )

        def due(message, zone):
            return format_local(stamp(snapshot(connection, "messages", message)["due_at"]), zone)

        assert closes(spring, MADRID) == "2031-04-08 09:00 CEST"  # was 10:00 CEST
        assert [due(m, MADRID) for m in spring_reminders] == [
            "2031-03-28 09:00 CET",  # before the change: it was right already
            "2031-04-01 09:00 CEST",
            "2031-04-04 09:00 CEST",
        ]
        assert closes(autumn, MADRID) == "2031-11-03 09:00 CET"  # was 08:00 CET
        autumn_due = [
            stamp(snapshot(connection, "messages", m)["due_at"]) for m in autumn_reminders
        ]
        local = [moment.astimezone(ZoneInfo(MADRID)) for moment in autumn_due]
        assert [(m.date().isoformat(), m.time(), m.tzname()) for m in local] == [
            ("2031-10-25", time(14, 15, 30, 250000), "CEST"),
            ("2031-10-29", time(14, 15, 30, 250000), "CET"),  # was 13:15:30.25
        ]
        assert closes(auckland, AUCKLAND) == "2031-10-02 09:00 NZDT"
        assert [due(m, AUCKLAND) for m in auckland_reminders] == ["2031-09-29 09:00 NZDT"]
        assert closes(by_hand, MADRID) == "2031-04-10 16:45 CEST"

        assert [due(m, NEW_YORK) for m in sent_reminders] == [
            "2031-10-31 09:00 EDT",
            "2031-11-04 09:00 EST",  # was 08:00 EST
        ]
        cancelled = snapshot(connection, "messages", too_late)
        assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "expired")
        assert cancelled["finished_at"] is not None
        events = connection.execute(
            sa.text("SELECT status, source, reason FROM message_events WHERE message_id = :id"),
            {"id": too_late},
        ).all()
        assert [tuple(event) for event in events] == [("cancelled", "upgrade", "expired")]

        # Every column the row had is as it was; later revisions may add columns of their own
        # (messages.phone, in c4e7a2b91d30), which are theirs to test.
        for (table, row), before in kept.items():
            after = snapshot(connection, table, row)
            assert {key: after[key] for key in before} == before, (table, row)
