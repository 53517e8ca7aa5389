"""The README's production command: gunicorn with four workers and no Redis. Each worker is a
process of its own; the limits still hold exactly as documented, because every worker counts
in the service's database (database://, the default). Runs on SQLite and on PostgreSQL."""

import re
import time
from collections import Counter

import pytest
import requests

from tests.conftest import PASSWORD, csrf_from
from tests.servers import gunicorn

WORKERS = 4
# The worker's process id and the status of every request, so the test can show that the
# requests were answered by several workers (the access log is redacted; this is all it says).
ACCESS_LOG = {"GUNICORN_CMD_ARGS": "--access-logformat 'worker=%(p)s status=%(s)s'"}
ACCESS_LINE = re.compile(r"worker=<(\d+)> status=(\d+)")


@pytest.fixture(scope="module")
def server(schema, tmp_path_factory):
    log = tmp_path_factory.mktemp("workers") / "server.log"
    with gunicorn(schema, log, workers=WORKERS, threads=2, settings=ACCESS_LOG) as base:
        every_worker_answers(base, log)
        yield base, log


def every_worker_answers(base: str, log, timeout: float = 90) -> None:
    """Wait until every worker has booted and answered: gunicorn() returns once one worker
    answers, and on a busy machine the others were still booting when the counted requests
    began, so one worker took them all (the checks that several answered then failed)."""
    deadline = time.monotonic() + timeout
    while len(workers_that_answered(log, "200")) < WORKERS:
        assert time.monotonic() < deadline, f"not every worker answered: {log.read_text()}"
        fresh_browser().get(f"{base}/healthz", timeout=30)


def fresh_browser() -> requests.Session:
    """A client that opens a new connection per request, so that requests spread over the
    workers the way different visitors' do."""
    browser = requests.Session()
    browser.headers["Connection"] = "close"
    return browser


def workers_that_answered(log, *statuses: str) -> Counter:
    answered = Counter()
    for worker, status in ACCESS_LINE.findall(log.read_text(errors="replace")):
        if status in statuses:
            answered[worker] += 1
    return answered


def test_four_workers_refuse_the_eleventh_wrong_link_guess(server, app):
    base, log = server
    browser = fresh_browser()
    statuses = [
        browser.get(f"{base}/s/{n:022d}", allow_redirects=False, timeout=30).status_code
        for n in range(16)
    ]
    assert statuses == [404] * 10 + [429] * 6
    refused = browser.get(f"{base}/s/{'C' * 22}", timeout=30)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Shared counts, not luck: the guesses were answered by more than one worker.
    assert len(workers_that_answered(log, "404", "429")) >= 2


def test_four_workers_refuse_the_eleventh_failed_sign_in_to_one_account(
    server, app, site, make_user
):
    base, log = server
    user = make_user("clinician", [site])
    browser = fresh_browser()

    def sign_in(password: str) -> requests.Response:
        page = browser.get(f"{base}/login", timeout=30)
        form = {"email": user.email, "password": password, "csrf_token": csrf_from(page.text)}
        return browser.post(f"{base}/login", data=form, allow_redirects=False, timeout=60)

    failures = [sign_in("wrong password!").status_code for _ in range(10)]
    assert failures == [200] * 10
    assert sign_in(PASSWORD).status_code == 429  # even the right password, at the limit
    assert len(workers_that_answered(log, "200", "429")) >= 2


def test_several_workers_will_not_start_with_counts_in_each_workers_memory(schema, tmp_path):
    log = tmp_path / "refused.log"
    settings = {"SURVEY_RATELIMIT_STORAGE_URI": "memory://"}
    with (
        pytest.raises(RuntimeError, match="gunicorn exited"),
        gunicorn(schema, log, workers=2, threads=1, settings=settings),
    ):
        pass  # pragma: no cover (it must not start)
    output = log.read_text()
    assert "counts rate limits in each of the 2 workers separately" in output
    assert "Traceback" not in output
