"""Many patients at once, through a real server: gunicorn with several worker processes on
127.0.0.1, in front of PostgreSQL. Fifty taps on Send for one invitation store one set of
responses; two hundred patients sending at the same moment lose nothing."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from survey.domain.enrolment import enrol_patient
from survey.domain.invitations import create_invitation, mint_link
from survey.extensions import db
from survey.instruments import get_instrument, scoring
from survey.models import Invitation, InvitationStatus, Response
from tests.fixtures.patients import CCIS_10, QOLAF_51
from tests.servers import Phone, gunicorn

pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("needs_postgresql")]

WORKERS, THREADS = 4, 4


@pytest.fixture(scope="module")
def server(schema, tmp_path_factory):
    """gunicorn -c gunicorn.conf.py wsgi:app, as deployed; yields its base URL."""
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with gunicorn(schema, log, WORKERS, THREADS) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


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

    # Opening fifty links takes longer than gunicorn's 5 s keep-alive on a busy machine: a post
    # on a connection the server is closing just then is reset, not retried. Fresh ones.
    for phone in phones:
        phone.http.close()
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
        assert stored["qolaf-q"].total == scoring.score(qolaf, q).total
        assert stored["ccis"].total == scoring.score(ccis, c).total
        assert stored["qolaf-q"].band == scoring.score(qolaf, q).band.id
        assert {a.item_id: a.value for a in stored["qolaf-q"].answers} == q
    assert db.session.scalar(select(func.count()).select_from(Response)) == 400
    completed = db.session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(Invitation.status == InvitationStatus.COMPLETED)
    )
    assert completed == 200
    assert elapsed < 60, f"200 patients took {elapsed:.1f} s"
