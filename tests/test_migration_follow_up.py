"""Upgrading a database that already follows patients: each summary gains its next due and
overdue, each invitation its first text, reminders before the answers and way of answering,
equal to what the application itself works out (`survey.domain.summaries`,
`survey.domain.analytics`)."""

from datetime import UTC, datetime, timedelta

import flask_migrate
from sqlalchemy import text

from survey.domain.analytics import completion_figures, refresh_invitation_facts, scanned_figures
from survey.domain.summaries import refresh_follow_up
from survey.extensions import db
from tests.clinic.analytics_data import same_figures
from tests.conftest import make_app
from tests.test_migration_backfill import database, insert  # noqa: F401  (the fixture)

BEFORE = "e8a4c2f17b35"  # the revision before the stored follow-up and invitation facts
PAST = datetime(2025, 1, 10, 9, tzinfo=UTC)  # long before any upgrade
FUTURE = datetime(2030, 1, 10, 9, tzinfo=UTC)  # long after
DAY = timedelta(days=1)
FOLLOW_UP = "SELECT patient_id, next_due_at, next_closes_at, next_due_from, overdue_since "
FACTS = "SELECT id, first_text_at, reminders_before, answer_mode FROM invitations ORDER BY id"


def moment(value):
    """A stored timestamp as aware UTC, whatever the database hands back."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def follow_up(connection):
    rows = connection.execute(text(FOLLOW_UP + "FROM patient_summaries ORDER BY patient_id"))
    return {row[0]: tuple(moment(value) for value in row[1:]) for row in rows}


def facts(connection):
    return {row[0]: (moment(row[1]), row[2], row[3]) for row in connection.execute(text(FACTS))}


def seed(connection):
    insert(
        connection,
        "sites",
        id=1,
        name="Unit",
        timezone="Europe/Madrid",
        default_language="es",
        contact="",
        created_at=PAST,
    )
    insert(
        connection,
        "users",
        id=1,
        email="coordinator@unit.example",
        password_hash="x",
        role="coordinator",
        active=True,
        created_at=PAST,
    )
    # 1: a missed timepoint, then one answered, then one still to come.
    # 2: a missed timepoint and nothing answered since (overdue), one to come.
    # 3: withdrawn, with a missed timepoint (never overdue).
    invitations = {
        1: [(1, PAST, "open"), (2, PAST + 30 * DAY, "completed"), (3, FUTURE, "open")],
        2: [(4, PAST, "open"), (5, FUTURE, "open")],
        3: [(6, PAST, "open")],
    }
    for patient_id in invitations:
        insert(
            connection,
            "patients",
            id=patient_id,
            site_id=1,
            reference=f"OLD-{patient_id}",
            language="es",
            timezone="Europe/Madrid",
            status="withdrawn" if patient_id == 3 else "active",
            channel="sms",
            created_at=PAST,
        )
        insert(connection, "patient_summaries", patient_id=patient_id)
        for invitation_id, opens_at, status in invitations[patient_id]:
            completed = status == "completed"
            insert(
                connection,
                "invitations",
                id=invitation_id,
                patient_id=patient_id,
                timepoint=f"t{invitation_id}",
                instrument_ids='["ccis"]',
                opens_at=opens_at,
                expires_at=opens_at + 14 * DAY,
                status=status,
                created_at=PAST,
                completed_at=opens_at + 5 * DAY if completed else None,
            )
    # Invitation 2: texted, two reminders before its answers (given on paper), one after.
    for message_id, kind, days in ((1, "invitation", 0), (2, "reminder", 2), (3, "reminder", 4)):
        text_message(connection, message_id, 1, 2, kind, PAST + 30 * DAY + days * DAY)
    text_message(connection, 4, 1, 2, "reminder", PAST + 40 * DAY)
    text_message(connection, 5, 2, 4, "invitation", None)  # never handed to the provider
    insert(
        connection,
        "responses",
        id=1,
        invitation_id=2,
        patient_id=1,
        instrument_id="ccis",
        instrument_version="1",
        wording_version="1",
        wording_hash="0" * 64,
        wording_status="published",
        language="es",
        total=4,
        subscales="{}",
        submitted_at=PAST + 35 * DAY,
        mode="paper",
    )
    # Invitation 5: opened on a clinic tablet, not answered yet.
    insert(
        connection,
        "tablet_handoffs",
        id=1,
        invitation_id=5,
        code_hash="a" * 64,
        created_at=PAST,
        expires_at=PAST + DAY,
        created_by_id=1,
        used_at=PAST + timedelta(minutes=1),
    )


def text_message(connection, message_id, patient_id, invitation_id, kind, sent_at):
    insert(
        connection,
        "messages",
        id=message_id,
        patient_id=patient_id,
        invitation_id=invitation_id,
        kind=kind,
        status="delivered" if sent_at else "pending",
        due_at=sent_at or PAST,
        sent_at=sent_at,
        attempts=1 if sent_at else 0,
        created_at=PAST,
    )


def test_upgrading_fills_the_follow_up_and_the_invitation_facts(database):  # noqa: F811
    app = make_app(database)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            seed(connection)
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            stored, kept = follow_up(connection), facts(connection)
        missed = PAST + 14 * DAY
        assert stored == {
            1: (FUTURE, FUTURE + 14 * DAY, missed, FUTURE),
            2: (FUTURE, FUTURE + 14 * DAY, missed, PAST),
            3: (None, None, missed, None),
        }
        assert kept[2] == (PAST + 30 * DAY, 2, "paper")
        assert kept[4] == (None, 0, "web")
        assert kept[5] == (None, 0, "tablet")
        assert len(kept) == 6
        # The application's own definitions give the same values.
        with db.engine.begin() as connection:
            refresh_follow_up(connection, [1, 2, 3], datetime.now(UTC))
            refresh_invitation_facts(connection)
            assert follow_up(connection) == stored
            assert facts(connection) == kept


def test_upgrading_fills_the_completion_counts(database):  # noqa: F811
    """The analytics read kept counts after the upgrade, equal to the figures worked out
    from the invitations; patient 1 and 2 will have missed two once their second open
    invitation closes, patient 3 has one open invitation only."""
    app = make_app(database)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            seed(connection)
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            missed = connection.execute(
                text("SELECT patient_id, second_missed_at FROM patient_summaries")
            )
            assert {row[0]: moment(row[1]) for row in missed} == {
                1: FUTURE + 14 * DAY,
                2: FUTURE + 14 * DAY,
                3: None,
            }
        for now in (PAST + 20 * DAY, datetime.now(UTC), FUTURE + 15 * DAY):
            kept = completion_figures(db.session, [1], now)
            assert same_figures(kept, scanned_figures(db.session, [1], now))
        today = completion_figures(db.session, [1], datetime.now(UTC))
        assert (today.totals.invitations, today.totals.completed, today.totals.expired) == (4, 1, 3)
        assert today.breakdowns["mode"][-1].key == "paper"
        assert today.reminders_needed[2] == ("2", 1)
        assert today.median_hours_to_complete == 5 * 24  # the first text to the answers
        assert completion_figures(db.session, [1], FUTURE + 15 * DAY).patients_missing_two == 2
