"""Many patients at once, through a real server: gunicorn with several worker processes on
127.0.0.1, in front of PostgreSQL. Fifty taps on Send for one invitation store one set of
responses; two hundred patients sending at the same moment lose nothing."""

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from survey.enrolment import enrol_patient
from survey.extensions import db
from survey.instruments import get_instrument
from survey.invitations import create_invitation, mint_link
from survey.models import Invitation, InvitationStatus, Response
from tests.patient.conftest import CCIS_10, QOLAF_51

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[2]
WORKERS, THREADS = 4, 4
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def needs_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "concurrent writers through a multi-process server need PostgreSQL (SQLite "
            "serialises writers). Set SURVEY_TEST_DATABASE_URL to a PostgreSQL database."
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return "memory://"
    return "redis://127.0.0.1:6379/15"  # shared counts across the workers, as across nodes


@pytest.fixture(scope="module")
def server(schema, tmp_path_factory):
    """gunicorn -c gunicorn.conf.py wsgi:app, as deployed; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    env = {
        **os.environ,
        "SURVEY_DATABASE_URL": schema,
        "SURVEY_SECRET_KEY": "concurrency-test-secret",
        "SURVEY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SURVEY_BIND": f"127.0.0.1:{port}",
        "SURVEY_WORKERS": str(WORKERS),
        "SURVEY_THREADS": str(THREADS),
        "SURVEY_RATELIMIT_STORAGE_URI": redis_url(),
        "SURVEY_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


class Phone:
    """One patient's browser against the real server: cookies, no automatic redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = None

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=60)

    def open_link(self, token: str) -> None:
        response = self.get(f"/s/{token}")
        assert response.status_code == 303, response.status_code
        page = self.get("/survey/1")
        assert page.status_code == 200, page.status_code
        self.csrf = CSRF.search(page.text).group(1)

    def send(self, step: int, answers: dict, action: str = "next") -> requests.Response:
        data = {"csrf_token": self.csrf, "action": action}
        data.update({item: str(value) for item, value in answers.items()})
        return self.http.post(
            f"{self.base}/survey/{step}", data=data, allow_redirects=False, timeout=60
        )


def invitations(site, count: int) -> list[tuple[int, str]]:
    """`count` patients of the site, each with an open invitation: (invitation id, token)."""
    made = []
    for n in range(count):
        patient = enrol_patient(db.session, site, f"C-{n:03d}", f"+3461{n:07d}", "es")
        invitation = create_invitation(db.session, patient, "3 months")
        made.append((invitation, mint_link(db.session, invitation)))
    db.session.commit()
    return [(invitation.id, token) for invitation, token in made]


def at_once(count: int, work) -> list:
    """Run work(i) for i in range(count) in `count` threads released together."""
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifty_taps_on_send_for_one_invitation_store_one_set_of_responses(server, site):
    [(invitation_id, token)] = invitations(site, 1)
    phones = [Phone(server) for _ in range(50)]
    for phone in phones:  # the link opened on fifty tabs (or replayed fifty times)
        phone.open_link(token)
    assert phones[0].send(1, QOLAF_51).status_code == 303
    assert phones[0].send(2, CCIS_10, action="save").status_code == 204

    statuses = at_once(50, lambda i: phones[i].send(2, CCIS_10))
    assert {response.status_code for response in statuses} == {303}
    assert {response.headers["Location"] for response in statuses} == {"/survey/done"}

    db.session.expire_all()
    stored = db.session.scalars(select(Response).where(Response.invitation_id == invitation_id))
    assert sorted((r.instrument_id, r.total) for r in stored) == [("ccis", 10), ("qolaf-q", 51)]
    assert db.session.get(Invitation, invitation_id).status == InvitationStatus.COMPLETED


def test_two_hundred_patients_sending_at_once_lose_nothing(server, site):
    qolaf, ccis = get_instrument("qolaf-q"), get_instrument("ccis")
    invited = invitations(site, 200)
    rng = random.Random(20261125)  # noqa: S311 (test data)
    answers = [
        (
            {item.id: rng.choice(qolaf.options).value for item in qolaf.items},
            {item.id: rng.choice(ccis.options).value for item in ccis.items},
        )
        for _ in invited
    ]

    def patient(i: int) -> list[int]:
        phone = Phone(server)
        phone.open_link(invited[i][1])
        first = phone.send(1, answers[i][0])
        second = phone.send(2, answers[i][1])
        done = phone.get("/survey/done")
        return [first.status_code, second.status_code, done.status_code]

    began = time.monotonic()
    statuses = at_once(200, patient)
    elapsed = time.monotonic() - began
    failed = [s for s in statuses if s != [303, 303, 200]]
    assert not failed, failed

    db.session.expire_all()
    by_invitation = {}
    for response in db.session.scalars(select(Response)):
        by_invitation.setdefault(response.invitation_id, {})[response.instrument_id] = response
    for (invitation_id, _token), (q, c) in zip(invited, answers, strict=True):
        stored = by_invitation[invitation_id]
        assert stored["qolaf-q"].total == qolaf.score(q).total
        assert stored["ccis"].total == ccis.score(c).total
        assert stored["qolaf-q"].band == qolaf.score(q).band.id
        assert {a.item_id: a.value for a in stored["qolaf-q"].answers} == q
    assert db.session.scalar(select(func.count()).select_from(Response)) == 400
    completed = db.session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(Invitation.status == InvitationStatus.COMPLETED)
    )
    assert completed == 200
    assert elapsed < 60, f"200 patients took {elapsed:.1f} s"
