"""The database goes away while a patient answers: they get a calm, translated 503 page, and
every answer saved before the outage is still there when the database comes back, so sending
again completes the questionnaires with the right scores."""

import pytest
from sqlalchemy import func, select

from survey.domain import submission
from survey.extensions import db
from survey.models import DraftAnswer, InvitationStatus, Response
from tests.conftest import make_app
from tests.fixtures.patients import CCIS_10, QOLAF_51, PatientActions, interface, refreshed
from tests.security.outage import FailingStatements, Relay

SPANISH = {"Accept-Language": "es-ES,es;q=0.9"}
BUSY = "The service is busy"
NOTHING_LOST = "Nothing you entered has been lost. Please try again in a few minutes."


@pytest.fixture
def outage(schema, app):
    """An app whose database can be taken away: (app, down(), up())."""
    if db.engine.dialect.name == "postgresql":
        url = db.engine.url
        relay = Relay(url.host, url.port or 5432)
        faulty = make_app(relay.url(schema))
        yield faulty, relay.cut, relay.mend
        relay.close()
        with faulty.app_context():
            db.engine.dispose()
        return
    faulty = make_app(schema)
    with faulty.app_context():
        failing = FailingStatements(db.engine)

    def down():
        failing.failing = True

    def up():
        failing.failing = False

    yield faulty, down, up
    failing.remove()


def saved(invitation) -> dict:
    db.session.expire_all()
    return submission.saved_answers(db.session, refreshed(invitation))


def test_a_patient_whose_send_meets_a_database_outage_loses_no_answer(outage, enrolled, invite):
    faulty, down, up = outage
    link = invite(enrolled)
    patient = PatientActions(faulty.test_client())
    patient.client.environ_base.update({"HTTP_ACCEPT_LANGUAGE": SPANISH["Accept-Language"]})
    patient.opens(link)
    patient.answers(1, QOLAF_51)  # Next: the first questionnaire is saved
    patient.answers(2, CCIS_10, action="save")  # the autosave script, as each answer is chosen

    down()
    response = patient.answers(2, CCIS_10)  # "Send my answers"
    assert response.status_code == 503
    assert interface("es", BUSY) in response.text
    assert interface("es", NOTHING_LOST) in response.text
    assert "Traceback" not in response.text and "OperationalError" not in response.text
    # Other pages answer the same way meanwhile, never with a 500.
    assert patient.client.get("/survey/2").status_code == 503
    assert patient.opens(link).status_code == 503

    up()
    assert saved(link.invitation) == {"qolaf-q": QOLAF_51, "ccis": CCIS_10}
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    # The patient presses Send again: the pool replaces its dead connections by itself.
    response = patient.answers(2, CCIS_10)
    assert response.status_code == 303 and response.headers["Location"] == "/survey/done"
    stored = {r.instrument_id: r for r in db.session.scalars(select(Response))}
    assert stored["qolaf-q"].total == 51 and stored["ccis"].total == 10
    assert refreshed(link.invitation).status == InvitationStatus.COMPLETED


def test_a_failure_inside_the_submit_stores_nothing_half_done(schema, enrolled, invite):
    """The database fails between the first stored response and the second: the transaction is
    all or nothing, so the invitation stays open with its drafts, and sending again works."""
    app = make_app(schema)
    with app.app_context():
        failing = FailingStatements(db.engine)
    try:
        link = invite(enrolled)
        patient = PatientActions(app.test_client())
        patient.opens(link)
        patient.answers(1, QOLAF_51)
        patient.answers(2, CCIS_10, action="save")
        failing.only, failing.failing = "INSERT INTO answers", True
        assert patient.answers(2, CCIS_10).status_code == 503
        failing.failing = False
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        assert db.session.scalar(select(func.count()).select_from(DraftAnswer)) == 19
        assert refreshed(link.invitation).status == InvitationStatus.OPEN
        assert patient.answers(2, CCIS_10).status_code == 303
        assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    finally:
        failing.remove()


def test_the_health_check_reports_the_outage_and_the_recovery(outage):
    faulty, down, up = outage
    client = faulty.test_client()
    assert client.get("/healthz").status_code == 200
    down()
    assert client.get("/healthz").status_code == 503
    up()
    assert client.get("/healthz").status_code == 200


def test_staff_pages_meet_an_outage_with_the_same_calm_page(outage, site, make_user):
    faulty, down, up = outage
    user = make_user("clinician", [site])
    client = faulty.test_client()
    from tests.conftest import StaffActions

    StaffActions(client).login(user.email)
    down()
    response = client.get("/clinic/")
    assert response.status_code == 503
    assert BUSY in response.text
    up()
    assert client.get("/clinic/").status_code == 200
