"""What the HTTP benchmarks share: a throwaway PostgreSQL schema with invited patients, the
server as deployed (gunicorn.conf.py, with the floor routes of benchmarks/floor.py turned on),
and wrk to load it.

Run the scripts from the top of the checkout, e.g. `python benchmarks/submit_throughput.py`;
they print figures and leave nothing behind in the database."""

import argparse
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import flask_migrate
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from the checkout, like the tests

from benchmarks.floor import create_floor_table  # noqa: E402
from survey import config, create_app  # noqa: E402
from survey.domain.enrolment import enrol_patient  # noqa: E402
from survey.domain.invitations import create_invitation, mint_link  # noqa: E402
from survey.domain.staff_setup import create_site  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.instruments import get_instrument  # noqa: E402
from tests.servers import CSRF, Phone, gunicorn  # noqa: E402

WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/bench_http"


def add_server_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every HTTP benchmark takes (run_all.py passes them on)."""
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a PostgreSQL URL")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py's)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per worker (default: gunicorn.conf.py's)"
    )
    parser.add_argument(
        "--worker-class",
        default=None,
        choices=("sync", "gthread"),
        help="gunicorn worker class (default: gunicorn.conf.py's)",
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15, help="length of each wrk run")
    return parser


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every HTTP benchmark takes; a script adds its own."""
    return add_server_options(argparse.ArgumentParser(description=description))


def server_line(args: argparse.Namespace) -> str:
    """One line saying how gunicorn and wrk were set up for a run."""
    workers = args.workers or f"{gunicorn_default('workers')} (gunicorn.conf.py)"
    threads = args.threads or f"{gunicorn_default('threads')} (gunicorn.conf.py)"
    worker_class = args.worker_class or f"{gunicorn_default('worker_class')} (gunicorn.conf.py)"
    return (
        f"gunicorn: {workers} workers x {threads} threads, {worker_class}; "
        f"wrk: {args.wrk_threads} threads, {args.connections} connections, {args.seconds} s"
    )


def gunicorn_default(name: str):
    """A setting of gunicorn.conf.py as it would be read with no SURVEY_* overrides."""
    values: dict = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), values)  # noqa: S102
    return values[name]


def load() -> str:
    """`uptime`: how busy the machine was (other helpers' runs share it)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: S607


def machine() -> str:
    """One line naming the machine the figures were measured on."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {memory:.0f} GiB"


@contextlib.contextmanager
def scratch_schema(database: str) -> Iterator[str]:
    """A new schema holding the migrated tables and the floor table; dropped afterwards.

    Yields the URL whose connections use it."""
    name = f"bench_{os.getpid()}"
    engine = create_engine(config.database_uri(None, database))
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in database else "?"
    url = f"{database}{separator}options=-csearch_path%3D{name}"
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "benchmark-setup"})
        with app.app_context():
            flask_migrate.upgrade()
            create_floor_table(db.engine)
            db.engine.dispose()
        yield url
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        engine.dispose()


def invite_patients(url: str, count: int) -> list[str]:
    """`count` patients of one clinic, each with an open invitation; their link tokens."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "benchmark-setup"})
    with app.app_context():
        site = create_site(db.session, "Benchmark Colorectal Unit", "Europe/Madrid", "es")
        invitations = []
        for n in range(count):
            patient = enrol_patient(db.session, site, f"B-{n:05d}", f"+3461{n:07d}", "es")
            invitation = create_invitation(db.session, patient, "3 months")
            invitations.append(mint_link(db.session, invitation))
        db.session.commit()
        db.engine.dispose()
    return invitations


def answers(seed: int) -> tuple[dict, dict]:
    """A plausible set of answers to QoLAF-Q and CCIS."""
    rng = random.Random(seed)  # noqa: S311 (made-up answers, not secrets)
    qolaf, ccis = get_instrument("qolaf-q"), get_instrument("ccis")
    return (
        {item.id: rng.choice(qolaf.options).value for item in qolaf.items},
        {item.id: rng.choice(ccis.options).value for item in ccis.items},
    )


FORM = "application/x-www-form-urlencoded"


def open_in_process(app, seed: int, token: str):
    """A patient's test-client browser that opened its link and sent page 1 with the answers
    of `seed`; returns it and the body of its last page's form."""
    phone = app.test_client()
    assert phone.get(f"/s/{token}").status_code == 303
    csrf = CSRF.search(phone.get("/survey/1").text).group(1)
    first, second = answers(seed)
    page = urlencode({"csrf_token": csrf, "action": "next", **first})
    assert phone.post("/survey/1", data=page, content_type=FORM).status_code == 303
    return phone, urlencode({"csrf_token": csrf, "action": "next", **second})


@dataclass(frozen=True)
class OpenSession:
    """A patient who opened their link and answered page 1: what their browser holds."""

    cookie: str
    csrf: str
    last_page: dict


def open_sessions(base: str, tokens: list[str], parallel: int = 8) -> list[OpenSession]:
    """Through the server: each patient opens the link and sends page 1 (QoLAF-Q)."""

    def prepare(i: int) -> OpenSession:
        phone = Phone(base)
        phone.open_link(tokens[i])
        first, second = answers(i)
        assert phone.send(1, first).status_code == 303
        cookie = "; ".join(f"{c.name}={c.value}" for c in phone.http.cookies)
        return OpenSession(cookie, phone.csrf, second)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(prepare, range(len(tokens))))


def _server_settings(args: argparse.Namespace) -> dict[str, str]:
    settings = {}
    if args.worker_class:
        # GUNICORN_CMD_ARGS overrides gunicorn.conf.py, as on a command line.
        settings["GUNICORN_CMD_ARGS"] = f"--worker-class {args.worker_class}"
    return settings


@contextlib.contextmanager
def server(url: str, args: argparse.Namespace) -> Iterator[str]:
    """gunicorn as deployed, plus the floor routes (the middleware floor); yields the base URL."""
    log = Path(tempfile.mkdtemp(prefix="bench-http-")) / "server.log"
    settings = {"SURVEY_BENCHMARK_ROUTES": "1", **_server_settings(args)}
    with gunicorn(url, log, args.workers, args.threads, settings) as base:
        yield base
    _check_log(log)


@contextlib.contextmanager
def bare_server(url: str, args: argparse.Namespace, page: bytes = b"") -> Iterator[str]:
    """The bare floor (benchmarks/bare_app.py) under the same gunicorn settings and database;
    GET /page answers `page`. Yields the base URL."""
    folder = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    page_file = folder / "page.html"
    page_file.write_bytes(page)
    settings = {"BARE_PAGE_FILE": str(page_file), **_server_settings(args)}
    log = folder / "server.log"
    with gunicorn(
        url, log, args.workers, args.threads, settings, application="benchmarks.bare_app:app"
    ) as base:
        yield base
    _check_log(log)


def _check_log(log: Path) -> None:
    errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    if errors:
        raise RuntimeError(f"the server logged errors; see {log}")


def wrk(
    base: str,
    path: str,
    args: argparse.Namespace,
    script: str,
    *script_args: str,
    seconds: int | None = None,
) -> dict:
    """Run wrk with one of benchmarks/wrk/*.lua against base + path; the script's JSON summary."""
    command = [
        "wrk",
        "--latency",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds or args.seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPTS / script),
        base + path,
    ]
    if script_args:
        command += ["--", *script_args]
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall_seconds"] = time.monotonic() - began
    summary["command"] = " ".join(command)
    return summary


def describe(name: str, run: dict) -> str:
    """One line: requests/s and latency percentiles from a wrk summary."""
    return (
        f"{name:<28} {run['rps']:8.1f} req/s  p50 {run['p50_ms']:6.1f} ms  "
        f"p95 {run['p95_ms']:6.1f} ms  p99 {run['p99_ms']:6.1f} ms  "
        f"non-2xx/3xx {run['bad']}  errors {run['errors']}"
    )
