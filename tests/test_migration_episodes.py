"""Upgrading a database that already follows patients: each patient gets one episode of care
holding their index date and schedule, and every invitation belongs to it."""

from datetime import UTC, date, datetime

import flask_migrate
from sqlalchemy import text

from survey.extensions import db
from tests.conftest import make_app
from tests.test_migration_backfill import database, insert  # noqa: F401  (the fixture)

BEFORE = "d81b4e6a2c93"  # the revision before episodes of care


def test_upgrading_gives_every_patient_one_episode_with_their_invitations(database):  # noqa: F811
    app = make_app(database)
    start = datetime(2026, 1, 10, 9, tzinfo=UTC)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            insert(
                connection,
                "sites",
                id=1,
                name="Unit",
                timezone="Europe/Madrid",
                default_language="es",
                contact="",
                created_at=start,
            )
            for number, index_date in ((1, date(2026, 1, 15)), (2, None)):
                insert(
                    connection,
                    "patients",
                    id=number,
                    site_id=1,
                    reference=f"OLD-{number}",
                    language="es",
                    timezone="Europe/Madrid",
                    status="active",
                    channel="sms",
                    index_date=index_date,
                    created_at=start,
                )
            for number, patient_id in ((1, 1), (2, 1), (3, 2)):
                insert(
                    connection,
                    "invitations",
                    id=number,
                    patient_id=patient_id,
                    timepoint="baseline",
                    instrument_ids='["qolaf-q"]',
                    opens_at=start,
                    expires_at=start,
                    status="open",
                    created_at=start,
                )

        flask_migrate.upgrade()

        with db.engine.connect() as connection:
            episodes = connection.execute(
                text("SELECT id, patient_id, number, index_date FROM episodes ORDER BY patient_id")
            ).all()
            tagged = dict(connection.execute(text("SELECT id, episode_id FROM invitations")).all())
    assert [(patient, number) for _id, patient, number, _date in episodes] == [(1, 1), (2, 1)]
    assert str(episodes[0].index_date) == "2026-01-15" and episodes[1].index_date is None
    first, second = episodes[0].id, episodes[1].id
    assert tagged == {1: first, 2: first, 3: second}
