"""Answers given to a shipped wording that a later release changed (CCIS 1.0, with its
4-week window) keep the words their patient read: the upgrade finds them in the retired
definition, not "not on record"."""

import json
from datetime import UTC, datetime

import flask_migrate
from sqlalchemy import text

from survey.extensions import db
from survey.instruments import fingerprint, get_instrument, retired_instruments, shown_text
from tests.conftest import make_app
from tests.test_migration_backfill import BEFORE, database, insert  # noqa: F401  (fixture)


def test_a_ccis_answer_given_to_version_1_0_keeps_its_words(database):  # noqa: F811
    [retired] = retired_instruments("ccis")
    assert retired.version == "1.0" and retired.recall_period("en") == "In the past 4 weeks"
    assert fingerprint.wording_hash(retired, "en") != fingerprint.wording_hash(
        get_instrument("ccis"), "en"
    )
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    app = make_app(database)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            insert(
                connection,
                "sites",
                id=1,
                name="Unit",
                timezone="Europe/Madrid",
                default_language="en",
                contact="",
                created_at=at,
            )
            insert(
                connection,
                "patients",
                id=1,
                site_id=1,
                reference="OLD-CCIS",
                language="en",
                timezone="Europe/Madrid",
                status="active",
                created_at=at,
            )
            insert(
                connection,
                "patient_summaries",
                patient_id=1,
                ccis_latest=4,
                ccis_baseline=4,
                ccis_single=True,
            )
            insert(
                connection,
                "invitations",
                id=1,
                patient_id=1,
                timepoint="baseline",
                instrument_ids='["ccis"]',
                opens_at=at,
                expires_at=at,
                status="completed",
                created_at=at,
            )
            insert(
                connection,
                "responses",
                id=1,
                invitation_id=1,
                patient_id=1,
                instrument_id="ccis",
                instrument_version="1.0",
                wording_hash=fingerprint.wording_hash(retired, "en"),
                wording_status="unvalidated translation",
                language="en",
                total=4,
                subscales="{}",
                submitted_at=at,
            )
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            version = connection.execute(text("SELECT wording_version FROM responses")).scalar()
            kept = connection.execute(
                text("SELECT wording_hash, wording_version, texts FROM shown_wordings")
            ).one()
        db.engine.dispose()
    assert version == "1.0"
    assert kept[0] == fingerprint.wording_hash(retired, "en") and kept[1] == "1.0"
    texts = kept[2] if isinstance(kept[2], dict) else json.loads(kept[2])
    assert texts == shown_text(retired, "en")
    assert texts["recall_period"] == "In the past 4 weeks"
