"""The migrations build exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from survey.extensions import db


def test_upgrading_from_empty_builds_the_schema_the_models_declare(app):
    # The session-wide schema fixture built the database with `flask db upgrade` alone.
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
