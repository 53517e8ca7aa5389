"""Real servers for tests and benchmarks: gunicorn started from gunicorn.conf.py, as deployed,
and a patient's phone that talks to it over HTTP.

Used by the PostgreSQL-only tests (tests/security/test_concurrency.py,
tests/test_deployment.py) and by the scripts in benchmarks/, so that all of them measure and
check the same server set-up."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    """A TCP port nothing listens on right now, on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(
    database_url: str,
    log_path: Path,
    workers: int | None,
    threads: int | None,
    settings: dict[str, str] | None = None,
    application: str = "wsgi:app",
) -> Iterator[str]:
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a free loopback port, until /healthz answers.

    Yields the base URL; `settings` adds or overrides SURVEY_* variables (rate limits are
    counted in the database, as deployed, unless they set SURVEY_RATELIMIT_STORAGE_URI), or
    GUNICORN_CMD_ARGS. `application` is another WSGI app to serve with the same settings (the
    benchmarks' bare floor). On exit the server is stopped, and its log (stdout and stderr)
    stays at `log_path` for the caller to read."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "SURVEY_DATABASE_URL": database_url,
        "SURVEY_SECRET_KEY": "real-server-test-secret",
        "SURVEY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SURVEY_BIND": f"127.0.0.1:{port}",
        "SURVEY_LOG_LEVEL": "WARNING",
        # None: gunicorn.conf.py's own choice.
        **({"SURVEY_WORKERS": str(workers)} if workers is not None else {}),
        **({"SURVEY_THREADS": str(threads)} if threads is not None else {}),
        **(settings or {}),
    }
    with log_path.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", application],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a busy machine boots workers slowly
        while True:
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + log_path.read_text(errors="replace"))
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BehindTLS(requests.Session):
    """A browser session whose Secure cookies also go over plain HTTP: the phone talks to the
    server the way a reverse proxy that ended TLS does, while the browser itself saw https.
    (requests would otherwise keep a Secure cookie back from an http:// address.)"""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if self.cookies:
            prepared.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return prepared


class Phone:
    """One patient's browser against a real server: cookies, no automatic redirects.

    `headers` go with every request (e.g. the X-Forwarded-* a reverse proxy adds)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        behind_tls = (headers or {}).get("X-Forwarded-Proto") == "https"
        self.http = BehindTLS() if behind_tls else requests.Session()
        # A new connection per request. gunicorn closes a kept-alive connection after 5 s idle;
        # with hundreds of client threads on two cores a thread can stall that long between
        # two requests and then write into a closed socket. A browser retries that case by
        # itself; requests does not, so the test would fail for a reason no patient meets.
        self.http.headers["Connection"] = "close"
        self.http.headers.update(headers or {})
        self.csrf = None

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=60)

    def open_link(self, token: str) -> None:
        """Open the SMS link, land on the first questionnaire and keep its form token."""
        response = self.get(f"/s/{token}")
        assert response.status_code == 303, response.status_code
        page = self.get("/survey/1")
        assert page.status_code == 200, page.status_code
        self.csrf = CSRF.search(page.text).group(1)

    def send(self, step: int, answers: dict, action: str = "next") -> requests.Response:
        """Post one questionnaire page, as its buttons (or its autosave script) do."""
        data = {"csrf_token": self.csrf, "action": action}
        data.update({item: str(value) for item, value in answers.items()})
        return self.http.post(
            f"{self.base}/survey/{step}", data=data, allow_redirects=False, timeout=60
        )
