"""SURVEY_TWILIO_LOOKUP: where phonenumbers cannot tell a mobile from a landline (+1), Twilio
Lookup's line type decides, through the SDK, against the local Twilio stand-in; a Lookup that
cannot answer never blocks enrolment."""

import logging
import socket

import pytest
from sqlalchemy import func, select

from survey.domain.enrolment import EnrolmentError, enrol_patient
from survey.extensions import db
from survey.models import Patient
from tests.conftest import logged_by
from tests.outreach.twilio_server import ACCOUNT_SID, AUTH_TOKEN

LANDLINE = "+12125550123"  # New York: FIXED_LINE_OR_MOBILE to phonenumbers
MOBILE = "+16465550142"


@pytest.fixture
def lookup(app, fake_twilio):
    """Lookup on, with the SMS backend's account settings, pointed at the stand-in."""
    app.config.update(
        TWILIO_LOOKUP=True,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_LOOKUP_URL=fake_twilio.url,
        TWILIO_CONNECT_TIMEOUT=2,
        TWILIO_READ_TIMEOUT=2,
    )
    fake_twilio.line_types[LANDLINE] = "landline"
    return fake_twilio


def patients() -> int:
    return db.session.scalar(select(func.count(Patient.id)))


def test_a_us_landline_is_refused_with_lookup_on(app, site, lookup):
    with pytest.raises(EnrolmentError, match="That is a landline, not a mobile number"):
        enrol_patient(db.session, site, "US-1", "+1 212 555 0123", "en")
    assert lookup.lookups == [LANDLINE]
    assert patients() == 0


@pytest.mark.parametrize(
    "kind, words",
    [("tollFree", "service number"), ("fixedVoip", "not a mobile number")],
)
def test_other_line_types_are_refused_with_their_own_words(app, site, lookup, kind, words):
    lookup.line_types[MOBILE] = kind
    with pytest.raises(EnrolmentError, match=words):
        enrol_patient(db.session, site, "US-1", MOBILE, "en")
    assert lookup.lookups == [MOBILE]


def test_the_same_landline_is_accepted_with_lookup_off(app, site, fake_twilio):
    fake_twilio.line_types[LANDLINE] = "landline"
    app.config.update(TWILIO_LOOKUP_URL=fake_twilio.url, TWILIO_ACCOUNT_SID=ACCOUNT_SID)
    patient = enrol_patient(db.session, site, "US-1", "+1 212 555 0123", "en")
    assert patient.phone == LANDLINE
    assert fake_twilio.lookups == []


def test_a_us_mobile_is_accepted_after_one_lookup(app, site, lookup):
    patient = enrol_patient(db.session, site, "US-1", "+1 646 555 0142", "en")
    assert patient.phone == MOBILE
    assert lookup.lookups == [MOBILE]


def test_a_number_phonenumbers_knows_as_mobile_is_not_looked_up(app, site, lookup):
    patient = enrol_patient(db.session, site, "ES-1", "+34 612 345 678", "es")
    assert patient.phone == "+34612345678"
    assert lookup.lookups == [] and lookup.requests == 0


def test_a_lookup_outage_accepts_the_number_and_logs_a_warning(app, site, lookup, caplog):
    lookup.answer_next(("http", 503))
    with logged_by(caplog, "survey.line_types", logging.WARNING):
        patient = enrol_patient(db.session, site, "US-1", "+1 212 555 0123", "en")
    assert patient.phone == LANDLINE  # a landline, but Lookup could not say so
    assert lookup.lookups == [LANDLINE]
    warning = next(r for r in caplog.records if r.name == "survey.line_types")
    assert warning.levelno == logging.WARNING
    assert "HTTP 503" in warning.getMessage() and "accepted" in warning.getMessage()
    assert "2125550123" not in caplog.text  # the number itself stays out of the logs


def test_an_unreachable_lookup_accepts_the_number_and_logs_a_warning(app, site, lookup, caplog):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app.config["TWILIO_LOOKUP_URL"] = f"http://127.0.0.1:{port}"
    with logged_by(caplog, "survey.line_types", logging.WARNING):
        patient = enrol_patient(db.session, site, "US-1", "+1 212 555 0123", "en")
    assert patient.phone == LANDLINE
    assert "could not be reached (ConnectionError)" in caplog.text


def test_refused_credentials_accept_the_number_and_log_a_warning(app, site, lookup, caplog):
    app.config["TWILIO_AUTH_TOKEN"] = "not-the-token"  # noqa: S105
    with logged_by(caplog, "survey.line_types", logging.WARNING):
        patient = enrol_patient(db.session, site, "US-1", "+1 212 555 0123", "en")
    assert patient.phone == LANDLINE
    assert "HTTP 401, code 20003" in caplog.text


def test_the_command_line_refuses_a_us_landline_after_one_lookup(runner, app, site, lookup):
    refused = runner.invoke(
        args=[
            "patients",
            "add",
            "US-1",
            "--site",
            site.name,
            "--phone",
            "+1 212 555 0123",
            "--language",
            "en",
        ]
    )
    assert refused.exit_code != 0 and "landline" in refused.output
    assert "Traceback" not in refused.output
    assert lookup.lookups == [LANDLINE]
    added = runner.invoke(
        args=[
            "patients",
            "add",
            "US-2",
            "--site",
            site.name,
            "--phone",
            "+1 646 555 0142",
            "--language",
            "en",
        ]
    )
    assert added.exit_code == 0, added.output
    assert lookup.lookups == [LANDLINE, MOBILE]
    assert patients() == 1
