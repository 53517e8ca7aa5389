"""What the benchmark scripts share: an app on a given database, a signed-in clinician, and a
stopwatch that also measures the floor (the same SQL sent straight to the database)."""

from __future__ import annotations

import contextvars
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager

from flask.testing import FlaskClient
from sqlalchemy import event, select

from survey import create_app
from survey.extensions import db
from survey.models import Role, Site, User
from survey.passwords import hash_password

CLINICIAN = "bench-clinician@bench.example"
PASSWORD = "benchmark passphrase, not a secret"  # noqa: S105 (a throwaway benchmark account)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a context of its own, as under a real server:
    it never shares `g` or the database session (and its cached rows) with the script."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(database_url: str):
    """The real app on `database_url`, as production would build it (no TESTING shortcuts)."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark-secret-key",
            # Plain http, as the test client speaks: Secure cookies would not be sent back.
            "PUBLIC_URL": "http://localhost",
            # Many requests from one client address: the login limit must not stop the run.
            "RATELIMIT_ENABLED": False,
        }
    )
    app.test_client_class = IsolatedClient
    return app


def clinician_of(site_name: str) -> User:
    """A clinician of the site, made once and reused by later runs."""
    site = db.session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        raise SystemExit(f"There is no site called {site_name!r}: seed one first.")
    user = db.session.scalar(select(User).where(User.email == CLINICIAN))
    if user is None:
        user = User(email=CLINICIAN, role=Role.CLINICIAN, password_hash=hash_password(PASSWORD))
        db.session.add(user)
    user.sites = [site]
    db.session.commit()
    return user


def signed_in_client(app):
    """A test client signed in through the login form, as a browser would be."""
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login", data={"email": CLINICIAN, "password": PASSWORD, "csrf_token": token}
    )
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in: {answer.status_code}")
    return client


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    """The median of `repeat` timed runs, after one untimed run that warms the caches."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def captured_sql(engine):
    """Every (statement, parameters) the block sends to the database, as sent."""
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def raw_sql_runner(
    engine, statements, kinds: tuple[str, ...] = ("SELECT", "WITH")
) -> Callable[[], None]:
    """Send the statements straight to the driver and fetch every row: the floor no code
    above the database can beat. `kinds`: the statements replayed, by their first word (the
    whole run is rolled back, so an UPDATE the function needs may be replayed too)."""
    selects = [
        (sql, params) for sql, params in statements if sql.lstrip().upper().startswith(kinds)
    ]
    writes = any(not sql.lstrip().upper().startswith(("SELECT", "WITH")) for sql, _ in selects)

    def run() -> None:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            for sql, params in selects:
                cursor.execute(sql, params)
                if not writes or cursor.description is not None:
                    cursor.fetchall()
            connection.rollback()
        finally:
            connection.close()

    return run


def machine() -> str:
    """nproc, memory, the load average (the machine may be shared) and the database server's
    version, for the results file."""
    memory = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout  # noqa: S607
    total = next(line.split()[1] for line in memory.splitlines() if line.startswith("Mem:"))
    version = db.session.execute(db.text("select version()")).scalar().split(" on ")[0]
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {total} GB memory, load average {load}, {version}"
