"""The bare floor: a minimal Flask app with none of the service's middleware (no session,
CSRF, rate limiter, security headers, audit, Babel or SQLAlchemy), served by gunicorn from the
same gunicorn.conf.py against the same PostgreSQL, so that a patient request is judged against
what the stack underneath it costs, not against a floor that already carries the middleware.

    gunicorn -c gunicorn.conf.py benchmarks.bare_app:app

Settings (environment):
- SURVEY_DATABASE_URL: the PostgreSQL URL (libpq form; `options=-csearch_path=...` is kept);
- BARE_PAGE_FILE: a file whose bytes GET /page answers with (the harness saves the patient's
  QoLAF-Q page there, so the floor sends exactly the bytes the real page sends).

Routes:
- POST /commit: one INSERT and one COMMIT into `benchmark_floor_writes` (benchmarks/floor.py
  creates it), on a psycopg connection each thread keeps open: BEGIN, INSERT, COMMIT;
- GET /page: the saved bytes, text/html;
- GET /healthz: 200, for the harness's start-up check.
"""

import os
import threading
from pathlib import Path

import psycopg
from flask import Flask, Response

app = Flask(__name__)
_local = threading.local()
_page: bytes | None = None


def database_url() -> str:
    url = os.environ["SURVEY_DATABASE_URL"]
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def connection() -> psycopg.Connection:
    """This thread's connection, opened on first use (and again if it was closed)."""
    conn = getattr(_local, "connection", None)
    if conn is None or conn.closed:
        conn = _local.connection = psycopg.connect(database_url())
    return conn


def page_bytes() -> bytes:
    global _page
    if _page is None:
        name = os.environ.get("BARE_PAGE_FILE")
        _page = Path(name).read_bytes() if name else b"<!doctype html><title>floor</title>"
    return _page


@app.post("/commit")
def commit():
    conn = connection()
    conn.execute("INSERT INTO benchmark_floor_writes DEFAULT VALUES")
    conn.commit()
    return "", 204


@app.get("/page")
def page():
    return Response(page_bytes(), content_type="text/html; charset=utf-8")


@app.get("/healthz")
def health():
    return "ok"
