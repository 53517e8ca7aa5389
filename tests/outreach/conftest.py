"""Fixtures for outreach: a fixed clock, enrolment with the default schedule, the console and
Twilio backends (the real SDK against a local server), and signed webhooks."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from survey.extensions import db
from survey.invitations import find_link
from survey.models import Message, MessageKind
from survey.outreach.backends import backend_from_config
from survey.outreach.dispatch import DispatchSettings, dispatch_due
from survey.outreach.policy import SendingRules
from survey.outreach.schedules import ensure_default_schedule
from survey.outreach.scheduling import enrol
from tests.outreach import twilio_server
from tests.outreach.twilio_server import ACCOUNT_SID, AUTH_TOKEN

# A Monday: 11:00 in Madrid, 05:00 in New York, 19:00 in Tokyo.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LINK = re.compile(r"https://survey\.example\.org/s/([A-Za-z0-9_-]{22})")
RULES = SendingRules()


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def settings(app) -> DispatchSettings:
    return DispatchSettings.from_config(app.config)


@pytest.fixture
def enrolled(site):
    """Enrol a patient on the default schedule, the baseline open at `at` (default NOW)."""

    def make(
        reference="P-001",
        phone="+34612345678",
        language="es",
        timezone=None,
        at=NOW,
        index_date: date | None = None,
        enrol_site=None,
    ):
        schedule = ensure_default_schedule(db.session)
        patient, _changes = enrol(
            db.session,
            enrol_site or site,
            reference,
            phone,
            language,
            timezone,
            index_date or (at + timedelta(days=7)).date(),
            schedule,
            at,
            RULES,
        )
        db.session.commit()
        return patient

    return make


@pytest.fixture
def fake_twilio():
    state, server = twilio_server.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def twilio_app(app, fake_twilio):
    """The app configured for Twilio, pointed at the local fake."""
    app.config.update(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32,
        TWILIO_API_URL=fake_twilio.url,
        TWILIO_CONNECT_TIMEOUT=2,
        TWILIO_READ_TIMEOUT=0.5,
    )
    return app


@pytest.fixture
def twilio(twilio_app):
    return backend_from_config(twilio_app.config, twilio_app.instance_path)


@pytest.fixture
def console(app, tmp_path):
    app.config["SMS_DEV_OUTBOX"] = str(tmp_path / "outbox.jsonl")
    return backend_from_config(app.config, app.instance_path)


@pytest.fixture
def dispatch(settings):
    """Run one dispatch pass at a given time with a given backend."""

    def run(backend, at=NOW, limit=100):
        report = dispatch_due(db.session, backend, settings, now=at, limit=limit)
        db.session.expire_all()
        return report

    return run


def messages_of(patient, kind: MessageKind | None = None) -> list[Message]:
    query = db.select(Message).where(Message.patient_id == patient.id)
    if kind:
        query = query.where(Message.kind == kind)
    return list(db.session.scalars(query.order_by(Message.due_at, Message.id)))


def token_in(body: str) -> str:
    match = LINK.search(body)
    assert match, f"no link in {body!r}"
    return match.group(1)


def invitation_for_body(body: str):
    link = find_link(db.session, token_in(body))
    assert link is not None, "the link in the text does not open anything"
    return link.invitation


@pytest.fixture
def sign():
    """Headers Twilio would send: a signature computed by the SDK for our public URL."""

    def headers(
        path: str,
        form: dict,
        token: str = AUTH_TOKEN,
        idempotency: str | None = None,
        public_url: str = "https://survey.example.org",
    ) -> dict:
        signature = RequestValidator(token).compute_signature(public_url + path, form)
        result = {"X-Twilio-Signature": signature}
        if idempotency:
            result["I-Twilio-Idempotency-Token"] = idempotency
        return result

    return headers


def later(hours: float = 0, days: float = 0) -> datetime:
    return NOW + timedelta(hours=hours, days=days)
