"""The benchmarks' floor routes (benchmarks/floor.py): absent from the service unless a test
server turns them on."""

import pytest
from sqlalchemy import func, select

from benchmarks import floor
from benchmarks.floor import create_floor_table, floor_metadata, floor_writes
from survey.extensions import db
from tests.conftest import make_app

FLOOR_ROUTES = [("post", "/_bench/commit"), ("get", "/_bench/page")]


@pytest.mark.parametrize(("method", "path"), FLOOR_ROUTES)
def test_the_floor_routes_do_not_exist_by_default(client, method, path):
    assert getattr(client, method)(path).status_code == 404


@pytest.mark.parametrize(("method", "path"), FLOOR_ROUTES)
def test_wsgi_adds_no_floor_route_unless_asked(app, method, path):
    floor.init_app(app)
    assert getattr(app.test_client(), method)(path).status_code == 404


@pytest.fixture
def bench_client(schema, monkeypatch):
    """A client of a server started with SURVEY_BENCHMARK_ROUTES=1, its table created."""
    monkeypatch.setenv("SURVEY_BENCHMARK_ROUTES", "1")
    app = make_app(schema)
    floor.init_app(app)  # as wsgi.py does
    with app.app_context():
        create_floor_table(db.engine)
        db.session.execute(floor_writes.delete())
        db.session.commit()
        yield app.test_client()
        db.session.remove()
        # Not one of the service's tables: the migrations test must not find it afterwards.
        floor_metadata.drop_all(db.engine)
        db.engine.dispose()


def test_the_commit_floor_stores_one_row_per_post_without_a_csrf_token(bench_client):
    for _ in range(3):
        assert bench_client.post("/_bench/commit").status_code == 204
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(floor_writes)) == 3


def test_the_page_floor_renders_the_patient_layout(bench_client):
    page = bench_client.get("/_bench/page", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert '<html lang="es"' in page.text
    assert 'class="patient"' in page.text
    assert "language-switch" in page.text


def test_the_checkouts_wsgi_app_has_the_benchmark_command_and_floor_routes(schema, monkeypatch):
    """`flask --app wsgi benchmark seed` and SURVEY_BENCHMARK_ROUTES=1 keep working, though
    neither is in the installed package any more."""
    import importlib
    import sys

    monkeypatch.setenv("SURVEY_DATABASE_URL", schema)
    monkeypatch.setenv("SURVEY_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("SURVEY_BENCHMARK_ROUTES", "1")
    monkeypatch.delitem(sys.modules, "wsgi", raising=False)
    app = importlib.import_module("wsgi").app
    assert "seed" in app.cli.commands["benchmark"].commands
    assert {"/_bench/commit", "/_bench/page"} <= {rule.rule for rule in app.url_map.iter_rules()}
