"""The database restarts between two requests: the next request is answered as if nothing
happened, by survey/connection_health.py's check at checkout (the default: no pool pre-ping
round trip). PostgreSQL only: SQLite has no server to lose."""

import time

import psycopg
import pytest
from sqlalchemy import event, text

from survey import connection_health
from survey.extensions import db
from tests.conftest import make_app
from tests.fixtures.patients import CCIS_10, QOLAF_51, PatientActions
from tests.security.outage import Relay

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")


def wait_until(check, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_connections_are_recycled(app):
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_recycle"] > 0


def test_pooled_connections_are_checked_without_a_round_trip(app):
    """No pre-ping (a round trip at every checkout): the checkout check looks at the socket
    instead, so the restart below is survived by that check."""
    assert not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
    assert event.contains(db.engine, "checkout", connection_health._check_out)


def test_an_idle_connection_ended_by_the_server_is_seen_as_dead(postgresql):
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as victim, psycopg.connect(url, autocommit=True) as admin:
        pid = victim.info.backend_pid
        assert connection_health.idle_connection_is_dead(victim) is False
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert wait_until(lambda: connection_health.idle_connection_is_dead(victim))


def test_a_patient_goes_on_after_the_database_restarts_between_two_pages(
    postgresql, schema, enrolled, invite
):
    url = db.engine.url
    relay = Relay(url.host, url.port or 5432)
    app = make_app(relay.url(schema))
    try:
        link = invite(enrolled)
        patient = PatientActions(app.test_client())
        patient.opens(link)
        assert patient.answers(1, QOLAF_51).status_code == 303
        with app.app_context():
            pooled = db.engine.pool.checkedin()
        assert pooled >= 1  # the next page would take one of these dead connections

        relay.cut()  # the server goes away, closing every connection, and comes back
        # A restart takes seconds, so the closed connections' end of file has reached the app
        # before its next request; on a loaded machine the kernel may take milliseconds to
        # deliver it, so the test waits that long (a request inside that window meets the
        # dead connection, fails with the 503 page, and the pool drops every older one).
        time.sleep(0.5)
        relay.mend()

        assert patient.client.get("/survey/2").status_code == 200
        response = patient.answers(2, CCIS_10)
        assert response.status_code == 303 and response.headers["Location"] == "/survey/done"
        with app.app_context():
            assert db.session.scalar(text("SELECT count(*) FROM responses")) == 2
    finally:
        relay.close()
        with app.app_context():
            db.engine.dispose()


def test_a_page_whose_connection_dies_after_the_checkout_check_is_read_again(
    postgresql, app, patient, enrolled, invite
):
    """The window the checkout check cannot close: the server ends the connection after the
    check found it alive. The page's first read meets the dead connection and is read once
    more on a new one, instead of the 503 page."""
    patient.opens(invite(enrolled))
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    ended = []

    def end_it_once(dbapi_connection, connection_record, connection_proxy):
        if not ended:
            ended.append(dbapi_connection.info.backend_pid)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (ended[0],))

    event.listen(db.engine, "checkout", end_it_once)
    try:
        for path in ("/survey/1", "/survey/2"):
            ended.clear()
            assert patient.client.get(path).status_code == 200
            assert ended  # the connection it took first was ended
    finally:
        event.remove(db.engine, "checkout", end_it_once)
