"""Upgrading a database that already holds answers: each response gets its wording version,
every wording it was given to is kept, and each summary gains previous, best and changes."""

import json
import os
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import create_engine, text

from survey import config
from survey.extensions import db
from survey.instruments import apply_wording, fingerprint, get_instrument, shown_text
from survey.instruments.licensed_wording import wording_overlay
from tests.conftest import make_app
from tests.instruments.builders import wording_file

BEFORE = "f3a9c1d7b2e4"  # the revision before wording versions and previous/best summaries
UNKNOWN_HASH = "f" * 64  # a wording no definition or import here produces


@pytest.fixture
def database(tmp_path):
    """A database of its own (a SQLite file, or a schema on the PostgreSQL test server)."""
    url = os.environ.get("SURVEY_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'upgrade.sqlite'}"
        return
    schema = f"test_upgrade_{os.getpid()}"
    engine = create_engine(config.database_uri(None, url))
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def insert(connection, table, **values):
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)  # noqa: S608


def test_upgrading_backfills_wording_versions_kept_wordings_and_summaries(database):
    app = make_app(database)
    qolaf = get_instrument("qolaf-q")
    overlay = wording_overlay(qolaf, wording_file(qolaf, ["es"], reword=lambda t: f"[ES] {t}"))
    imported = apply_wording(qolaf, overlay)
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
            insert(
                connection,
                "patients",
                id=1,
                site_id=1,
                reference="OLD-1",
                language="es",
                timezone="Europe/Madrid",
                status="active",
                created_at=start,
            )
            # As the application kept it before the upgrade (latest 40, baseline 51).
            insert(
                connection,
                "patient_summaries",
                patient_id=1,
                qolaf_latest=40,
                qolaf_baseline=51,
                qolaf_single=False,
            )
            # The import, stored as the application stored it: no version of its own.
            connection.execute(
                text(
                    "INSERT INTO imported_wordings (id, instrument_id, definition, source_name,"
                    " imported_at) VALUES (1, 'qolaf-q', :definition, 'es.json', :at)"
                ),
                {"definition": json.dumps(overlay), "at": start},
            )
            # 51 to the shipped wording, 28 to the import, 40 to a wording known nowhere.
            for number, (label, total, wording_hash, status) in enumerate(
                [
                    ("baseline", 51, fingerprint.wording_hash(qolaf, "es"), "provisional"),
                    ("3 months", 28, fingerprint.wording_hash(imported, "es"), "validated"),
                    ("6 months", 40, UNKNOWN_HASH, "provisional"),
                ],
                start=1,
            ):
                at = start + timedelta(days=90 * (number - 1))
                insert(
                    connection,
                    "invitations",
                    id=number,
                    patient_id=1,
                    timepoint=label,
                    instrument_ids='["qolaf-q"]',
                    opens_at=at,
                    expires_at=at,
                    status="completed",
                    created_at=at,
                )
                insert(
                    connection,
                    "responses",
                    id=number,
                    invitation_id=number,
                    patient_id=1,
                    instrument_id="qolaf-q",
                    instrument_version="1.0",
                    wording_hash=wording_hash,
                    wording_status=status,
                    language="es",
                    total=total,
                    subscales="{}",
                    submitted_at=at,
                )

        flask_migrate.upgrade()

        with db.engine.connect() as connection:
            versions = connection.execute(
                text("SELECT total, wording_version FROM responses ORDER BY id")
            ).all()
            kept = connection.execute(
                text(
                    "SELECT wording_hash, wording_version, wording_status, texts "
                    "FROM shown_wordings ORDER BY id"
                )
            ).all()
            summary = connection.execute(
                text(
                    "SELECT qolaf_latest, qolaf_baseline, qolaf_previous, qolaf_best, "
                    "qolaf_change, qolaf_change_previous, qolaf_provisional, "
                    "qolaf_baseline_provisional, qolaf_previous_provisional, ccis_change "
                    "FROM patient_summaries"
                )
            ).one()
        db.engine.dispose()

    # Shipped wording: the instrument's version; the import: numbered; unknown: as before.
    assert [tuple(row) for row in versions] == [(51, "1.0"), (28, "1.0-import-1"), (40, "1.0")]
    assert len(kept) == 2
    shipped_row, imported_row = sorted(kept, key=lambda row: row[1])
    assert (
        shipped_row[0] == fingerprint.wording_hash(qolaf, "es") and shipped_row[2] == "provisional"
    )
    texts = shipped_row[3] if isinstance(shipped_row[3], dict) else json.loads(shipped_row[3])
    assert texts == shown_text(qolaf, "es")
    assert imported_row[:3] == (
        fingerprint.wording_hash(imported, "es"),
        "1.0-import-1",
        "validated",
    )
    # 51 -> 28 -> 40: previous 28, best before the latest 28; +12 on both, -11 on baseline.
    assert tuple(summary) == (40, 51, 28, 28, -11, 12, True, True, False, None)
