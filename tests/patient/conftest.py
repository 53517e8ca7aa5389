"""Fixtures for patient pages: an enrolled patient, private links in every state, and a
`patient` who opens links and answers pages the way a phone's browser would."""

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale, gettext

from survey.extensions import db
from survey.invitations import create_invitation, mint_link
from survey.models import Invitation, InvitationStatus, utcnow
from tests.conftest import csrf_from

# The Big List of Naughty Strings (MIT, Max Woolf), kept with its licence in tests/data/.
BLNS_PATH = Path(__file__).resolve().parent.parent / "data" / "blns.json"

# Answers like the published case (Arslan et al., Cureus 2026): QoLAF-Q 51 ("high") and
# CCIS 10 before treatment.
QOLAF_51 = {f"q{n}": 4 if n <= 9 else 3 for n in range(1, 15)}
CCIS_10 = {"solid": 2, "liquid": 2, "gas": 2, "pad": 2, "lifestyle": 2}


def hostile_strings() -> list[str]:
    """The Big List of Naughty Strings, for every free-text input of a bad-input test."""
    return [text for text in json.loads(BLNS_PATH.read_text(encoding="utf-8")) if text]


def interface(language: str, message: str, **values) -> str:
    """An interface text as the catalog words it in `language` (the English until translated)."""
    with force_locale(language):
        return gettext(message, **values)


@dataclass
class Link:
    """An invitation and the token of the private link the SMS carried."""

    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        return f"/s/{self.token}"


@pytest.fixture
def enrolled(site, make_patient):
    """A Spanish-speaking patient of a site that gives patients a contact number."""
    site.contact = "+34 950 000 000"
    db.session.commit()
    return make_patient(site, reference="P-042", language="es")


@pytest.fixture
def invite(app):
    """Make an invitation for a patient and mint its private link.

    `state` puts the invitation in any state a link can be found in."""

    def make(patient, state: str = "open", instrument_ids=("qolaf-q", "ccis")) -> Link:
        now = utcnow()
        opens_at = {"expired": now - timedelta(days=20), "not yet open": now + timedelta(days=3)}
        invitation = create_invitation(
            db.session,
            patient,
            "3 months",
            instrument_ids,
            opens_at=opens_at.get(state, now - timedelta(hours=1)),
        )
        if state in ("cancelled", "completed"):
            invitation.status = InvitationStatus(state)
        token = mint_link(db.session, invitation)
        db.session.commit()
        return Link(invitation, token)

    return make


class PatientActions:
    """What a patient does on their phone: open the link, answer a page, press a button."""

    def __init__(self, client):
        self.client = client
        self._csrf_token = None

    def opens(self, link: Link | str, **kwargs):
        path = link.path if isinstance(link, Link) else link
        return self.client.get(path, **kwargs)

    def answers(self, step: int, answers: dict, action: str | None = "next", **extra):
        """Post a page as its buttons would, with the CSRF token of the page."""
        data = {"csrf_token": self.csrf_token(), **extra}
        if action is not None:
            data["action"] = action
        data.update({item_id: str(value) for item_id, value in answers.items()})
        return self.client.post(f"/survey/{step}", data=data)

    def completes(self, *pages: dict):
        """Answer every page in order and press Next, then Send on the last one."""
        for step, answers in enumerate(pages, start=1):
            response = self.answers(step, answers)
            assert response.status_code == 303, response.text
        return response

    def csrf_token(self) -> str:
        """The session's CSRF token, read once from the first questionnaire page."""
        if self._csrf_token is None:
            self._csrf_token = csrf_from(self.client.get("/survey/1").text)
        return self._csrf_token


@pytest.fixture
def patient(client):
    return PatientActions(client)


def refreshed(invitation: Invitation) -> Invitation:
    """The invitation as the database has it now (each request ran in its own session)."""
    db.session.expire_all()
    return db.session.get(Invitation, invitation.id)
