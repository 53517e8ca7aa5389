"""Fixtures for the clinic: patients with a history of answers, and staff to look at them."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from survey.demo import answers_for_total
from survey.extensions import db
from survey.instruments import get_instrument
from survey.invitations import create_invitation
from survey.models import InvitationStatus
from survey.responses import store_response

CCIS_ITEMS = ("solid", "liquid", "gas", "pad", "lifestyle")
# The published case (Arslan et al., Cureus 2026): QoLAF-Q 51 (high) and CCIS 10 before,
# 28 (limited) and 0 six months after. The CCIS items are the demo's spelled-out story.
PUBLISHED_CASE = [
    ("baseline", -7, 51, (1, 3, 3, 2, 1)),
    ("3 weeks", 21, 44, (0, 2, 2, 1, 1)),
    ("3 months", 91, 35, (0, 1, 1, 0, 0)),
    ("6 months", 182, 28, (0, 0, 0, 0, 0)),
]
# Quality of life better while continence worse.
BETTER_LIFE_WORSE_CONTINENCE = [
    ("baseline", -5, 45, (0, 1, 1, 1, 0)),
    ("3 months", 91, 33, (0, 1, 2, 1, 0)),
    ("6 months", 182, 30, (1, 2, 2, 2, 1)),
]
# The 3-week invitation expired unanswered.
MISSED_TIMEPOINT = [
    ("baseline", -3, 38, (0, 1, 2, 1, 1)),
    ("3 weeks", 21, None, None),
    ("3 months", 91, 30, (0, 1, 2, 0, 1)),
]
# A relapse: much better at three months, back where it started at six (51/10 -> 28/0 ->
# 51/10). Against baseline nothing changed; against the previous answers and the best so far
# QoLAF-Q is +23 (limited -> high) and CCIS +10.
RELAPSE = [
    ("baseline", -7, 51, (1, 3, 3, 2, 1)),
    ("3 months", 91, 28, (0, 0, 0, 0, 0)),
    ("6 months", 182, 51, (1, 3, 3, 2, 1)),
]
INDEX_DATE = date(2026, 1, 15)


def add_history(patient, history, *, index_date: date | None = None, hour: int = 9):
    """Store a patient's timepoints: (label, days after index, QoLAF-Q total or None, CCIS
    answers or None). Answers arrive a day and three hours after the invitation opens."""
    qolaf, ccis = get_instrument("qolaf-q"), get_instrument("ccis")
    start = index_date or patient.index_date or INDEX_DATE
    invitations = []
    for label, day, qolaf_total, ccis_answers in history:
        opens_at = datetime.combine(start + timedelta(days=day), time(hour), UTC)
        invitation = create_invitation(db.session, patient, label, opens_at=opens_at)
        db.session.flush()
        invitations.append(invitation)
        submitted_at = opens_at + timedelta(days=1, hours=3)
        if qolaf_total is not None:
            store_response(
                db.session,
                invitation,
                qolaf,
                answers_for_total(qolaf, qolaf_total),
                patient.language,
                submitted_at,
            )
        if ccis_answers is not None:
            store_response(
                db.session,
                invitation,
                ccis,
                dict(zip(CCIS_ITEMS, ccis_answers, strict=True)),
                patient.language,
                submitted_at,
            )
        if qolaf_total is not None and ccis_answers is not None:
            invitation.status = InvitationStatus.COMPLETED
            invitation.completed_at = submitted_at
    db.session.commit()
    return invitations


@pytest.fixture
def published_case(site, make_patient):
    """DEMO-001's story at the test site."""
    patient = make_patient(site, reference="CASE-51")
    add_history(patient, PUBLISHED_CASE)
    return patient


@pytest.fixture
def worsened_continence(site, make_patient):
    patient = make_patient(site, reference="CASE-WORSE", language="en", phone="+447911123456")
    add_history(patient, BETTER_LIFE_WORSE_CONTINENCE)
    return patient


@pytest.fixture
def missed_timepoint(site, make_patient):
    patient = make_patient(site, reference="CASE-MISSED", language="tr", phone="+905321234567")
    add_history(patient, MISSED_TIMEPOINT)
    return patient


@pytest.fixture
def relapse(site, make_patient):
    patient = make_patient(site, reference="CASE-RELAPSE", language="en", phone="+447911123457")
    add_history(patient, RELAPSE)
    return patient


@pytest.fixture
def clinician(site, make_user):
    return make_user("clinician", [site])


@pytest.fixture
def signed_in(client, staff, clinician):
    """A client signed in as a clinician of `site`."""
    staff.login(clinician.email)
    return client
