"""Fixtures for the security tests: staff of each role signed in on clients of their own,
and the routes of the application as its url_map lists them."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from survey import submission
from survey.auth import totp
from survey.extensions import db
from survey.models import Invitation, Message, TriageItem, User, utcnow
from survey.outreach.policy import SendingRules
from survey.outreach.schedules import ensure_default_schedule
from survey.outreach.scheduling import enrol
from tests.browser.conftest import browser, live_server  # noqa: F401  (shared fixtures)
from tests.conftest import StaffActions, csrf_from
from tests.outreach.conftest import fake_twilio  # noqa: F401  (shared fixture)
from tests.patient import conftest as patient_pages
from tests.patient.conftest import enrolled, invite, patient  # noqa: F401  (shared fixtures)

ROLES = ("admin", "clinician", "coordinator")
# Converters whose values we make up for the sweeps; any other converter is skipped loudly.
KNOWN_CONVERTERS = {"int", "default", "path", "any", "string"}


@dataclass
class Staff:
    """A signed-in member of staff: the account and the browser (client) they use."""

    user: User
    client: FlaskClient
    actions: StaffActions = field(repr=False)

    def csrf(self, path: str = "/account") -> str:
        return csrf_from(self.client.get(path).text)


@pytest.fixture
def sign_in(app, make_user):
    """`sign_in("clinician", [site])` -> Staff, on a new client of their own."""

    def make(role: str, sites, **user_fields) -> Staff:
        user = make_user(role, sites, **user_fields)
        client = app.test_client()
        actions = StaffActions(client)
        response = actions.login(user.email)
        assert response.status_code == 302, response.text
        return Staff(user, client, actions)

    return make


def enrol_second_factor(user: User) -> str:
    """Give a user a second factor directly; returns the key."""
    secret = totp.new_secret()
    user.totp_secret = secret
    db.session.commit()
    return secret


def current_code(secret: str) -> str:
    return totp.code_for(secret, utcnow())


def staff_rules(app: Flask) -> list[Rule]:
    """Every staff route: those outside the patient, auth, operations and webhook views."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith(("patient.", "operations.", "auth."))
        and rule.endpoint not in ("outreach.status_callback", "outreach.inbound")
        and rule.endpoint != "static"
        and not rule.endpoint.endswith(".static")
    ]


ANY_CONVERTER = re.compile(r"<any\(([^)]*)\):(\w+)>")


def any_choices(rule: Rule) -> dict[str, list[str]]:
    """The allowed values of each `any(...)` argument of a rule."""
    return {
        name: [choice.strip().strip("'\"") for choice in choices.split(",")]
        for choices, name in ANY_CONVERTER.findall(rule.rule)
    }


def follow(site, reference: str, phone: str) -> dict[str, int]:
    """A patient on the default schedule with an answered baseline; the ids a route may take."""
    followed, _changes = enrol(
        db.session,
        site,
        reference,
        phone,
        "es",
        None,
        (datetime.now(UTC) + timedelta(days=7)).date(),  # the baseline opens today
        ensure_default_schedule(db.session),
        datetime.now(UTC),
        SendingRules(),
    )
    db.session.commit()
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.patient_id == followed.id).order_by(Invitation.id)
    ).first()
    message = db.session.scalars(select(Message).where(Message.patient_id == followed.id)).first()
    assert invitation is not None and message is not None
    submission.save_answers(db.session, invitation.id, "qolaf-q", patient_pages.QOLAF_51)
    submission.save_answers(db.session, invitation.id, "ccis", patient_pages.CCIS_10)
    submission.submit(db.session, invitation.id, "es")
    item_id = db.session.scalar(
        select(TriageItem.id).where(TriageItem.invitation_id == invitation.id)
    )
    assert item_id is not None, "the submit triaged the timepoint"
    return {
        "patient_id": followed.id,
        "invitation_id": invitation.id,
        "message_id": message.id,
        "item_id": item_id,
    }
