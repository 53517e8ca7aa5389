"""Floor routes for the HTTP benchmarks, registered by `init_app` (wsgi.py calls it) only when
SURVEY_BENCHMARK_ROUTES=1: what the cheapest write and the cheapest page cost on the same
server, so a patient request's cost can be judged against them rather than in the abstract.

- POST /_bench/commit: one INSERT and one COMMIT into a table of its own. A commit, not an
  insert rolled back: a patient's submit is only done once PostgreSQL has flushed its WAL, and
  a rollback skips that flush, so it would make the floor look cheaper than any real write.
  The table is not one of the service's (not in the migrations, never in patient data or the
  audit trail); whoever turns the routes on creates it first with `create_floor_table`.
- GET /_bench/page: the patient page layout rendered with no database work at all.
"""

from flask import Blueprint, Flask, render_template
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    func,
    insert,
)

from survey.extensions import csrf, db

# Its template lives beside it (benchmarks/templates/), outside the installed package.
bp = Blueprint("benchmark", __name__, url_prefix="/_bench", template_folder="templates")

# Its own metadata, so neither the migrations nor the test suite's table list ever see it.
floor_metadata = MetaData()
floor_writes = Table(
    "benchmark_floor_writes",
    floor_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("written_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def init_app(app: Flask) -> None:
    """Add the floor routes to an app made by `create_app`, if its settings ask for them."""
    if app.config["BENCHMARK_ROUTES"]:
        app.register_blueprint(bp)


def create_floor_table(engine: Engine) -> None:
    """Create the floor route's table, before any server using it starts."""
    floor_metadata.create_all(engine)


@bp.post("/commit")
@csrf.exempt  # a load generator's post; it stores nothing anybody reads
def commit():
    """The cheapest durable write: one row inserted, then committed."""
    db.session.execute(insert(floor_writes))
    db.session.commit()
    return "", 204


@bp.get("/page")
def page():
    """The patient layout around a heading, rendered without touching the database."""
    return render_template("benchmark/page.html")
