"""The work a request costs this process: CPU time (`time.process_time`, so neither other
processes on a shared machine nor waiting for PostgreSQL count) and SQL statements per request,
through the test client on PostgreSQL, for the middleware floor, the patient page, a staff page
and the final submit, and for the bare floor (benchmarks/bare_app.py sending the patient page's
bytes) through the same test client. On a loaded machine wall-clock throughput moves with the
neighbours; this moves with the code, so it is what to compare before and after a change.
When PostgreSQL runs on this machine it also prints the CPU its backends spent per request
(read from /proc for every backend connected to the database: give it a database of its own).

    python benchmarks/request_cpu.py [--requests 300] [--profile page|floor|clinic|submit]

`--profile` prints cProfile's costliest functions for that request (cumulative CPU time) and
the statements one such request sends."""

import argparse
import cProfile
import os
import pstats
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import harness
from sqlalchemy import create_engine, event, select, text

from benchmarks import bare_app, floor
from survey import config, create_app
from survey.extensions import db
from survey.models import Role, Site, User
from survey.passwords import hash_password

PASSWORD = "benchmark-password-long-enough"  # noqa: S105 (a scratch schema's made-up account)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=harness.DEFAULT_DATABASE)
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind")
    parser.add_argument("--profile", choices=("bare", "floor", "page", "clinic", "submit"))
    args = parser.parse_args()

    with harness.scratch_schema(args.database) as url:
        # 10 to warm up, 1 for the page, 1 for --profile to list its statements
        tokens = harness.invite_patients(url, args.requests + 12)
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "benchmark-request-cpu",
                "BENCHMARK_ROUTES": True,
            }
        )
        floor.init_app(app)
        statements = count_statements(app)
        phones = [harness.open_in_process(app, i, token) for i, token in enumerate(tokens)]
        clinician = signed_in_clinician(app)
        page_phone = phones.pop()[0]
        floor_client = app.test_client()
        # The bare floor (benchmarks/bare_app.py) sends the patient page's own bytes.
        bare_app._page = page_phone.get("/survey/1").data
        bare_client = bare_app.app.test_client()

        def bare_page():
            assert bare_client.get("/page").status_code == 200

        def floor_page():
            assert floor_client.get("/_bench/page").status_code == 200

        def patient_page():
            assert page_phone.get("/survey/1").status_code == 200

        def clinic_list():
            assert clinician.get("/clinic/").status_code == 200

        submits = iter(phones[10:])

        def submit():
            phone, body = next(submits)
            assert phone.post("/survey/2", data=body, content_type=harness.FORM).status_code == 303

        # Warm every path (statements built and cached, templates compiled) before timing.
        for phone, body in phones[:10]:
            assert phone.post("/survey/2", data=body, content_type=harness.FORM).status_code == 303
        for request in (bare_page, floor_page, patient_page, clinic_list):
            for _ in range(10):
                request()

        kinds: dict[str, Callable[[], None]] = {
            "bare": bare_page,
            "floor": floor_page,
            "page": patient_page,
            "clinic": clinic_list,
            "submit": submit,
        }
        names = {
            "bare": "bare floor GET /page (same bytes)",
            "floor": "middleware floor GET /_bench/page",
            "page": "patient page GET /survey/1",
            "clinic": "staff page GET /clinic/",
            "submit": "final submit POST /survey/2",
        }
        print(harness.load())
        bare = 0.0
        for kind, request in kinds.items():
            if kind == args.profile:
                profile = cProfile.Profile(time.process_time)  # CPU, not waiting
                profile.enable()
            statements.clear()
            server_began = server_cpu(args.database)
            began = time.process_time()
            for _ in range(args.requests):
                request()
            cpu = time.process_time() - began
            server = server_cpu(args.database)
            per = sum(statements.values()) / args.requests
            if kind == args.profile:
                profile.disable()
                statements.sent = []
                request()
                sent, statements.sent = statements.sent, None
            ms = cpu / args.requests * 1000
            bare = bare or ms
            print(f"{names[kind]:<36} {ms:7.2f} ms CPU  {per:5.1f} statements  ", end="")
            print(f"x{ms / bare:5.1f} bare  ", end="")
            if server is None or server_began is None:
                print("PostgreSQL CPU not readable")
            else:
                print(f"PostgreSQL {(server - server_began) / args.requests * 1000:6.2f} ms CPU")
        print(harness.load())
        if args.profile:
            print("\n".join(sent))
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        with app.app_context():
            db.engine.dispose()


def server_cpu(database: str) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends connected to `database` (user and
    system time from /proc; None when the server runs elsewhere or /proc is not readable)."""
    engine = create_engine(config.database_uri(None, database))
    try:
        with engine.connect() as connection:
            pids = connection.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
    finally:
        engine.dispose()
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def count_statements(app) -> Counter:
    """Statements sent from now on, by their first word (BEGIN and COMMIT included)."""
    counted: Counter = Counter()
    counted.sent = None  # a list while one request's statements are being kept
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def statement(conn, cursor, sql, parameters, context, executemany):
        counted[sql.split(None, 1)[0].upper()] += 1
        if counted.sent is not None:
            counted.sent.append(" ".join(sql.split())[:160])

    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, lambda *a, _n=name: counted.update([_n.upper()]))
    return counted


def signed_in_clinician(app):
    """A clinician of the patients' site, signed in through the sign-in page."""
    email = "clinician@benchmark.example"
    with app.app_context():
        site = db.session.scalar(select(Site))
        user = User(
            email=email,
            password_hash=hash_password(PASSWORD),
            role=Role.CLINICIAN,
            sites=[site],
        )
        db.session.add(user)
        db.session.commit()
    browser = app.test_client()
    csrf = csrf_field(browser.get("/login").text)
    signed_in = browser.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert signed_in.status_code == 302, signed_in.status_code
    return browser


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


if __name__ == "__main__":
    main()
