"""Fixtures for triage: patients who answer timepoints through the real submit, one after
another, and the clinicians and admins who work the worklist."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey import submission
from survey.demo import answers_for_total
from survey.extensions import db
from survey.instruments import get_instrument
from survey.invitations import create_invitation
from survey.models import AuditEvent, TriageItem, utcnow
from tests.conftest import csrf_from

CCIS_ITEMS = ("solid", "liquid", "gas", "pad", "lifestyle")
# The relapse story of issue 11: much better at 6 months, back where it started at 12.
RELAPSE = [
    ("baseline", 51, (2, 2, 2, 2, 2)),
    ("6 months", 28, (0,) * 5),
    ("12 months", 51, (2,) * 5),
]
# A patient who improves and stays improved: never a worklist item.
STAYS_IMPROVED = [
    ("baseline", 51, (1, 3, 3, 2, 1)),
    ("3 weeks", 44, (0, 2, 2, 1, 1)),
    ("3 months", 35, (0, 1, 1, 0, 0)),
    ("6 months", 28, (0, 0, 0, 0, 0)),
    ("12 months", 28, (0, 0, 0, 0, 0)),
]


def submit_timepoint(patient, label: str, qolaf_total: int, ccis_answers, at=None):
    """One timepoint answered through `submission.submit`, as the last page's Send does."""
    at = at or utcnow()
    invitation = create_invitation(db.session, patient, label, opens_at=at - timedelta(hours=2))
    db.session.commit()
    qolaf = get_instrument("qolaf-q")
    submission.save_answers(
        db.session, invitation.id, "qolaf-q", answers_for_total(qolaf, qolaf_total), now=at
    )
    submission.submit(
        db.session,
        invitation.id,
        patient.language,
        now=at,
        last_page=("ccis", dict(zip(CCIS_ITEMS, ccis_answers, strict=True))),
    )
    return invitation


def submit_history(patient, history, start=None):
    """Each (label, QoLAF-Q total, CCIS answers) a week after the one before, ending now."""
    start = start or utcnow() - timedelta(weeks=len(history))
    return [
        submit_timepoint(patient, label, qolaf, ccis, at=start + timedelta(weeks=n))
        for n, (label, qolaf, ccis) in enumerate(history, start=1)
    ]


def items_of(patient) -> list[TriageItem]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(TriageItem).where(TriageItem.patient_id == patient.id).order_by(TriageItem.id)
        )
    )


def trail(item_id: int) -> list[tuple[str, int | None]]:
    """The audit events about an item: (action, user id), oldest first."""
    db.session.expire_all()
    return [
        (event.action, event.user_id)
        for event in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "triageitem", AuditEvent.subject_id == item_id)
            .order_by(AuditEvent.id)
        )
    ]


class Worklist:
    """A clinician working the worklist in their browser."""

    def __init__(self, client) -> None:
        self.client = client
        self._token = None

    def page(self, **args):
        return self.client.get("/clinic/worklist", query_string=args)

    def item(self, item_id: int):
        return self.client.get(f"/clinic/worklist/{item_id}")

    def step(self, item_id: int, step: str, **fields):
        """Post one of the item page's forms (with the session's CSRF token, read once)."""
        if self._token is None:
            self._token = csrf_from(self.item(item_id).text)
        return self.client.post(
            f"/clinic/worklist/{item_id}/{step}", data={"csrf_token": self._token, **fields}
        )

    def take(self, item_id: int, seen: str = ""):
        return self.step(item_id, "take", assignee=seen)


@pytest.fixture
def clinician(site, make_user):
    return make_user("clinician", [site])


@pytest.fixture
def worklist(client, staff, clinician) -> Worklist:
    staff.login(clinician.email)
    return Worklist(client)
