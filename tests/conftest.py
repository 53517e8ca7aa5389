"""Shared fixtures: an app on a fresh schema, a client, and people to act as.

Set SURVEY_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run the
suite against PostgreSQL; without it every test runs on a throwaway SQLite file."""

import contextvars
import functools
import logging
import os
import re
import time
from contextlib import contextmanager
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import flask_migrate
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from survey import config, create_app
from survey.cli.translate import TRANSLATIONS, compile_catalogs
from survey.domain.enrolment import enrol_patient
from survey.domain.staff_setup import create_site
from survey.extensions import db
from survey.models import Role, User
from survey.passwords import hash_password
from survey.security.limits import limiter_of

PASSWORD = "correct horse battery staple"

# The shared vocabulary (tests/fixtures/): fixtures any test may ask for, wherever it lives.
pytest_plugins = [
    "tests.fixtures.staff",
    "tests.fixtures.patients",
    "tests.fixtures.browser",
    "tests.fixtures.twilio",
]

# Long scenarios: real servers and processes, a browser, or thousands of requests. They are
# marked `slow` (so `-m "not slow"` gives a quick run while working) and CI runs them all.
SLOW_MODULES = {
    "test_packaging.py",
    "test_demo.py",
    "test_deployment.py",
    "test_dispatcher_crash.py",
    "test_limits_across_workers.py",
    "test_double_posts.py",
    "test_concurrency.py",
    "test_bad_input.py",
}


# The module whose tests take longest (minutes each): started before any other.
LONGEST = "test_bad_input.py"


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: two workers per core. A worker waits about half of its time (for Chromium,
    a server or a dispatcher in another process, the database), so one per core leaves the
    cores idle: on the 2-core CI machine the SQLite suite took 517 s with two, 432 s with four
    (and 381 s with six against 349 s with four). SURVEY_TEST_WORKERS sets the number instead,
    as `.ci/run` does when it runs the SQLite and PostgreSQL suites side by side."""
    workers = os.environ.get("SURVEY_TEST_WORKERS", "")
    if workers.isdigit() and int(workers) > 0:
        return int(workers)
    return 2 * (os.cpu_count() or 1)


NEEDS_POSTGRESQL = (
    "concurrent writers need PostgreSQL (SQLite serialises them). "
    "Set SURVEY_TEST_DATABASE_URL to a PostgreSQL database."
)


def on_postgresql() -> bool:
    return os.environ.get("SURVEY_TEST_DATABASE_URL", "").startswith("postgres")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.get_closest_marker("browser") or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        # Skipped before any fixture is set up: the `needs_postgresql` fixture alone skipped
        # only after the module's gunicorn had started and been stopped again, about two
        # minutes of the SQLite run spent on servers for tests that then did not run.
        marker = item.get_closest_marker("postgres_only")
        if (marker or "needs_postgresql" in getattr(item, "fixturenames", ())) and (
            not on_postgresql()
        ):
            reason = marker.kwargs.get("reason") if marker else None
            item.add_marker(pytest.mark.skip(reason=reason or NEEDS_POSTGRESQL))
    # pytest-xdist's work stealing (pyproject.toml) hands each worker a contiguous share of
    # the list and lets idle workers take the end of a busy one's. Each share starts with
    # its part of the long tests, the longest first, so that the workers end together
    # instead of one finishing a sweep that started last while the others wait.
    slow = [item for item in items if item.get_closest_marker("slow")]
    slow.sort(key=lambda item: item.path.name != LONGEST)  # stable: otherwise as collected
    fast = [item for item in items if not item.get_closest_marker("slow")]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = [
        item for share in range(workers) for item in slow[share::workers] + fast[share::workers]
    ]


def worker_name() -> str:
    """`gw0`, `gw1`... under pytest-xdist, `main` without it."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """SQLite in a temporary file of this worker's own, or on the PostgreSQL server a database
    of its own per xdist worker and run (the base URL's name with the worker and process as a
    suffix), so that workers, and several runs sharing one server, never touch each other's
    tables or advisory locks."""
    url = os.environ.get("SURVEY_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
        return
    parts = urlsplit(url)
    base_name = parts.path.lstrip("/") or "postgres"
    name = f"{base_name}_{worker_name()}_{os.getpid()}"[:63]
    engine = create_engine(config.database_uri(None, url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        # Thrown away at the end, like the SQLite files: a commit need not wait for the WAL
        # to reach the disk. Locking and isolation, and so every concurrency test, are as in
        # production; only a crash of the server itself could lose the last commits.
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, connection_record) -> None:
    """The test databases are thrown away: SQLite need not wait for the disk at each commit
    (a commit cost ~15 ms on a busy machine, and the suite commits tens of thousands of
    times). Locking, and so every concurrency test, is unchanged."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a context of its own, as under a real
    server: `g` and the database session are never shared with the test or with an
    earlier request (the test keeps its own app context for fixtures and assertions)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(database_url: str, **overrides):
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_URL": "https://survey.example.org",
        "SERVER_NAME": None,
        # Cheap argon2id: hundreds of users are made and signed in (production's parameters
        # are tested once, in tests/security/test_accounts.py).
        "PASSWORD_HASH_PROFILE": "test",
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def schema(database_url, tmp_path_factory):
    """Build the schema once per run, through the migrations, from nothing."""
    compile_catalogs(TRANSLATIONS)
    app = make_app(database_url)
    with app.app_context():
        flask_migrate.upgrade()
    return database_url


@pytest.fixture(scope="session")
def session_app(schema):
    """The one app the tests share (building an app per test cost a fifth of the run)."""
    return make_app(schema)


@pytest.fixture
def app(request, schema, session_app):
    """The app, in an app context, on empty tables.

    The session's one app unless the test asks for other settings with
    `@pytest.mark.app_config(SETTING=value, ...)`, which builds an app of its own for that test
    (as `make_app(schema, **settings)` does). Settings a test changes in `app.config` are put
    back after it, and so is the test client class (a test may set its own, as
    tests/patient/test_answering.py does to make every request over HTTPS)."""
    marker = request.node.get_closest_marker("app_config")
    app = make_app(schema, **marker.kwargs) if marker else session_app
    saved = dict(app.config)
    client_class = app.test_client_class
    limiter = limiter_of(app)
    limiting = limiter.enabled
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            empty_all_tables()
            if marker:
                db.engine.dispose()
    app.config.clear()
    app.config.update(saved)
    app.test_client_class = client_class
    limiter.enabled = limiting  # a test may switch limits off on the shared app


def empty_all_tables() -> None:
    """Every row gone and every id counting from 1 again, as in a new database. DELETE, not
    TRUNCATE, on PostgreSQL too: TRUNCATE makes new files for each table and index, about
    0.4 s per test for some forty tables, while deleting the few rows a test wrote takes
    milliseconds. The emptying is one script, sent at once (forty statements one by one,
    each built by SQLAlchemy, took 0.1 s of a test on PostgreSQL and 7 ms of CPU on SQLite
    on a busy machine; as a script, 30 ms and 2 ms)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(_emptying_script(postgresql=True))
            connection.commit()
        else:
            # sqlite3 runs a script only outside its own transaction handling: the script
            # says BEGIN and COMMIT itself.
            connection.connection.driver_connection.executescript(
                f"BEGIN; {_emptying_script(postgresql=False)}; COMMIT;"
            )


@functools.cache
def _emptying_script(postgresql: bool) -> str:
    # The names are the application's own tables (its metadata), never input.
    statements = []
    for table in reversed(db.metadata.sorted_tables):
        if postgresql and table.name in INSERT_ONLY:
            # Its trigger refuses DELETE (the audit trail): TRUNCATE, when there is a row
            # (an empty table need not get new files).
            statements.append(
                f'DO $$ BEGIN IF EXISTS (SELECT 1 FROM "{table.name}") '  # noqa: S608
                f'THEN TRUNCATE "{table.name}"; END IF; END $$'
            )
        else:
            statements.append(f'DELETE FROM "{table.name}"')  # noqa: S608
    if postgresql:
        statements.append("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'")
    return ";\n".join(statements)


# Tables whose PostgreSQL trigger refuses DELETE and UPDATE (survey/migrations).
INSERT_ONLY = {"audit_events"}


@pytest.fixture
def needs_postgresql(app):
    """Skip a test that runs a real multi-process server: only PostgreSQL takes concurrent
    writers (SQLite serialises them), so those tests need SURVEY_TEST_DATABASE_URL."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip(NEEDS_POSTGRESQL)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def site(app):
    site = create_site(db.session, "Almería Colorectal Unit", "Europe/Madrid", "es")
    db.session.commit()
    return site


@pytest.fixture
def other_site(app):
    site = create_site(db.session, "Ankara Proctology", "Europe/Istanbul", "tr")
    db.session.commit()
    return site


@pytest.fixture
def make_user(app):
    def make(role: str = "clinician", sites=(), email: str | None = None, active: bool = True):
        user = User(
            email=email or f"{role}{len(db.session.new)}-{os.urandom(3).hex()}@clinic.example",
            password_hash=hash_password(PASSWORD),
            role=Role(role),
            sites=list(sites),
            active=active,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_patient(app):
    def make(
        site,
        reference: str = "P-001",
        language: str = "es",
        phone="+34612345678",
        index_date: date | None = date(2026, 1, 15),
    ):
        patient = enrol_patient(db.session, site, reference, phone, language, None, index_date)
        db.session.commit()
        return patient

    return make


CSRF_FIELD = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


class StaffActions:
    """Sign in and out as a member of staff, the way a browser would."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD, next_url: str | None = None):
        page = self._client.get("/login")
        url = "/login" + (f"?next={next_url}" if next_url else "")
        return self._client.post(
            url,
            data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        )

    def logout(self):
        page = self._client.get("/clinic/")
        return self._client.post("/logout", data={"csrf_token": csrf_from(page.text)})


@pytest.fixture
def staff(client):
    return StaffActions(client)


class Clock:
    """Wall-clock time that a test moves on instead of sleeping: `time.time()` everywhere
    (the rate-limit storage, the `limits` library, Flask-Limiter) reads the real time plus
    however far the test has advanced, so it still runs forward and never back."""

    def __init__(self, real_time):
        self._real_time = real_time
        self.offset = 0.0

    def time(self) -> float:
        return self._real_time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(time.time)
    monkeypatch.setattr(time, "time", clock.time)
    return clock


@contextmanager
def logged_by(caplog, name: str, level: int = logging.DEBUG):
    """Records of logger `name` (and its children) into `caplog`, caught on that logger
    itself: whatever earlier tests in this process did to the loggers above it (a level, no
    propagation, a logging config applied by migrations or a server) cannot hide them."""
    logger = logging.getLogger(name)
    saved = logger.level, logger.disabled
    logger.addHandler(caplog.handler)
    logger.setLevel(level)
    logger.disabled = False
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)
        logger.level, logger.disabled = saved
