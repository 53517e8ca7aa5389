"""One description of an invitation's stage and dates, the same on every staff page.

Reported: the clinician list said "Next due 2026-11-27 open now" (the opening, a past date)
where the Follow-up page said "open until 2026-12-11" for the same invitation."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from survey.domain.invitation_dates import InvitationDates, Stage, describe, stage_of
from survey.domain.submission import InvitationState, state_of
from survey.extensions import db
from survey.models import InvitationStatus, utcnow
from survey.outreach.patient_schedule import enrol
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.fixtures.outreach import RULES

OPENS = datetime(2027, 3, 16, 8, tzinfo=UTC)  # 09:00 CET
CLOSES = datetime(2027, 4, 6, 7, tzinfo=UTC)  # 09:00 CEST


@pytest.mark.parametrize(
    ("status", "now", "stage"),
    [
        ("open", OPENS - timedelta(seconds=1), Stage.UPCOMING),
        ("open", OPENS, Stage.OPEN),  # opens at its opening time...
        ("open", CLOSES - timedelta(seconds=1), Stage.OPEN),
        ("open", CLOSES, Stage.CLOSED),  # ...and closes at its closing time
        ("completed", OPENS - timedelta(days=1), Stage.ANSWERED),
        ("cancelled", OPENS + timedelta(days=1), Stage.CANCELLED),
    ],
)
def test_stages_and_their_edges(status, now, stage):
    assert stage_of(status, OPENS, CLOSES, now) == stage


def test_each_stage_in_words_on_the_patients_clock(app):
    def words(now, status="open", answered_at=None):
        return InvitationDates.from_times(
            OPENS, CLOSES, "Europe/Madrid", now, status, answered_at
        ).describe()

    assert words(OPENS - timedelta(days=1)) == (
        "opens Mar 16, 2027, 9:00\u202fAM CET, closes Apr 6, 2027, 9:00\u202fAM CEST"
    )
    assert words(OPENS) == "open until Apr 6, 2027, 9:00\u202fAM CEST"
    assert words(CLOSES) == "closed unanswered on Apr 6, 2027, 9:00\u202fAM CEST"
    answered = OPENS + timedelta(days=2, hours=5)
    assert words(CLOSES, "completed", answered) == "answered Mar 18, 2027, 2:00\u202fPM CET"
    assert words(CLOSES, "cancelled") == "cancelled"


def test_the_patients_link_meets_the_same_stages(site, make_patient):
    from survey.domain.invitations import create_invitation

    invitation = create_invitation(db.session, make_patient(site), "3 months", opens_at=OPENS)
    for now, state in [
        (OPENS - timedelta(seconds=1), InvitationState.NOT_YET_OPEN),
        (OPENS, InvitationState.OPEN),
        (invitation.expires_at, InvitationState.EXPIRED),
    ]:
        assert state_of(invitation, now) == state
    invitation.status = InvitationStatus.COMPLETED
    assert state_of(invitation, OPENS) == InvitationState.COMPLETED


@pytest.fixture
def open_now(site):
    """A New York patient enrolled on the real clock: baseline open now, the rest to come."""
    now = utcnow()
    patient, _ = enrol(
        db.session,
        site,
        "NY-1",
        "+12125550123",
        "en",
        "America/New_York",
        (now + timedelta(days=7)).date(),
        ensure_default_schedule(db.session),
        now,
        RULES,
    )
    db.session.commit()
    return patient


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_every_staff_page_describes_the_next_invitation_in_the_same_words(
    client, staff, site, make_user, open_now
):
    staff.login(make_user("coordinator", [site]).email)
    baseline, three_weeks = open_now.invitations[:2]
    now = utcnow()
    open_words = text_of(describe(baseline, now))  # spaces as text_of leaves them
    assert open_words.startswith("open until ") and open_words.endswith(("EST", "EDT"))
    upcoming_words = text_of(describe(three_weeks, now))
    assert upcoming_words.startswith("opens ") and ", closes " in upcoming_words

    pages = {
        "clinician list": f"/clinic/?q={open_now.reference}",
        "clinician patient page": f"/clinic/patients/{open_now.id}",
        "follow-up list": f"/clinic/follow-up/?q={open_now.reference}",
        "follow-up patient page": f"/clinic/follow-up/patients/{open_now.id}",
    }
    checked = 0
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        text = text_of(response.text)
        assert open_words in text, name
        assert "open now" not in text, name
        checked += 1
    assert checked == 4
    assert upcoming_words in text_of(client.get(pages["follow-up patient page"]).text)
    assert "Next due: baseline, " + open_words in text_of(
        client.get(pages["clinician patient page"]).text
    )
