"""A small follow-up history whose completion figures are known by hand (see each comment),
shared by the analytics tests and the browser tests of the analytics page."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from survey.extensions import db
from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Response,
    ResponseMode,
    TabletHandoff,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def invitation(
    patient, timepoint, opens, expires, status=InvitationStatus.OPEN, started=None, completed=None
) -> Invitation:
    made = Invitation(
        patient=patient,
        timepoint=timepoint,
        instrument_ids=["qolaf-q", "ccis"],
        opens_at=opens,
        expires_at=expires,
        status=status,
        started_at=started,
        completed_at=completed,
    )
    db.session.add(made)
    db.session.flush()
    return made


def text(invitation_, sent_at, kind=MessageKind.INVITATION) -> None:
    db.session.add(
        Message(
            patient_id=invitation_.patient_id,
            invitation_id=invitation_.id,
            kind=kind,
            status=MessageStatus.DELIVERED,
            due_at=sent_at,
            sent_at=sent_at,
        )
    )


def seed(make_patient, site, other_site) -> None:
    """Seven counted invitations at `site`: 3 completed, 3 expired, 1 still open (rate 3/6).

    P1 (es): baseline answered 2 h after its text; 3 and 6 months expired (missed twice).
    P2 (en): baseline answered 52 h after its text, after one reminder (a second reminder
             after the answers does not count); 3 months answered in clinic, with no text.
    P3 (tr): baseline opened but expired; 3 months open now. A cancelled and a future
             invitation are not counted. Another site's completed invitation is not counted.
    """
    p1 = make_patient(site, "AN-P1", language="es")
    p2 = make_patient(site, "AN-P2", language="en")
    p3 = make_patient(site, "AN-P3", language="tr")
    stranger = make_patient(other_site, "AN-X", language="tr")

    base = invitation(
        p1,
        "baseline",
        at(1, 10),
        at(1, 24),
        InvitationStatus.COMPLETED,
        at(1, 10, 10),
        at(1, 10, 11),
    )
    text(base, at(1, 10))
    three = invitation(p1, "3 months", at(4, 10), at(4, 24))
    text(three, at(4, 10))
    text(three, at(4, 13), MessageKind.REMINDER)
    six = invitation(p1, "6 months", at(5, 1), at(5, 20))
    text(six, at(5, 1))

    base = invitation(
        p2,
        "baseline",
        at(1, 10),
        at(1, 24),
        InvitationStatus.COMPLETED,
        at(1, 12, 12),
        at(1, 12, 13),
    )
    text(base, at(1, 10))
    text(base, at(1, 12), MessageKind.REMINDER)
    text(base, at(1, 14), MessageKind.REMINDER)
    invitation(
        p2, "3 months", at(4, 10), at(4, 24), InvitationStatus.COMPLETED, at(4, 11), at(4, 11, 10)
    )

    base = invitation(p3, "baseline", at(1, 10), at(1, 24), started=at(1, 11))
    text(base, at(1, 10))
    three = invitation(p3, "3 months", at(5, 25), at(6, 10))
    text(three, at(5, 25))
    invitation(p3, "6 months", at(5, 26), at(6, 10), InvitationStatus.CANCELLED)
    future = datetime(2099, 1, 1, tzinfo=UTC)
    invitation(p3, "12 months", future, future + timedelta(days=14))

    theirs = invitation(
        stranger,
        "baseline",
        at(1, 10),
        at(1, 24),
        InvitationStatus.COMPLETED,
        at(1, 10, 10),
        at(1, 10, 11),
    )
    text(theirs, at(1, 10))
    db.session.commit()


def answered(invitation_, mode: ResponseMode, instruments=("qolaf-q", "ccis")) -> None:
    """The invitation answered `mode`: completed, with one stored response per questionnaire
    (the figures must count the invitation once however many questionnaires it holds)."""
    invitation_.status = InvitationStatus.COMPLETED
    invitation_.completed_at = invitation_.opens_at + H
    for instrument in instruments:
        db.session.add(
            Response(
                invitation_id=invitation_.id,
                patient_id=invitation_.patient_id,
                instrument_id=instrument,
                instrument_version="1",
                wording_version="1",
                wording_hash="0" * 64,
                wording_status="test",
                language="es",
                total=20,
                submitted_at=invitation_.completed_at,
                mode=mode,
            )
        )


def handed_to_tablet(invitation_, creator, opened: bool = True) -> None:
    """A coordinator made a tablet code for the invitation; `opened`: a tablet used it."""
    db.session.add(
        TabletHandoff(
            invitation_id=invitation_.id,
            code_hash=f"{invitation_.id:064d}",
            created_at=invitation_.opens_at,
            expires_at=invitation_.opens_at + timedelta(minutes=15),
            created_by_id=creator.id,
            used_at=invitation_.opens_at + timedelta(minutes=1) if opened else None,
        )
    )
    if opened:
        invitation_.started_at = invitation_.opens_at + timedelta(minutes=1)


def seed_modes(make_patient, make_user, site) -> None:
    """Eleven counted invitations at `site` whose way of answering is known by hand:

    web:    5 (W1, W2 answered on the phone; W3 expired; W4 expired with a tablet code made
            but never opened, so still the phone's; W5 still open): rate 2/4 = 0.5
    tablet: 3 (T1, T2 answered on a tablet; T3 opened on a tablet, then expired): rate 2/3
    paper:  1 (P1 opened on a tablet, then answered on paper after all): rate 1
    phone:  2 (H1, H2 answered by phone): rate 1
    """
    coordinator = make_user("coordinator", [site], email="modes.coordinator@clinic.example")
    patient = make_patient(site, "MODES-1", language="es")
    other = make_patient(site, "MODES-2", language="es")
    opens, closes = at(3, 1), at(3, 15)

    def made(who, timepoint):
        return invitation(who, timepoint, opens, closes)

    answered(made(patient, "W1"), ResponseMode.WEB)
    answered(made(other, "W2"), ResponseMode.WEB)
    made(patient, "W3")
    handed_to_tablet(made(other, "W4"), coordinator, opened=False)
    invitation(patient, "W5", opens, datetime(2099, 1, 1, tzinfo=UTC))
    for timepoint in ("T1", "T2"):
        tablet = made(patient, timepoint)
        handed_to_tablet(tablet, coordinator)
        answered(tablet, ResponseMode.TABLET)
    handed_to_tablet(made(other, "T3"), coordinator)
    paper = made(other, "P1")
    handed_to_tablet(paper, coordinator)
    answered(paper, ResponseMode.PAPER)
    answered(made(patient, "H1"), ResponseMode.PHONE, instruments=("ccis",))
    answered(made(other, "H2"), ResponseMode.PHONE)
    db.session.commit()


def same_figures(kept, scanned) -> bool:
    """Equal, the median to within float rounding (seconds kept as a float; the scan takes
    them from the timestamps)."""
    if (kept.median_hours_to_complete is None) != (scanned.median_hours_to_complete is None):
        return False
    if kept.median_hours_to_complete is not None:
        if kept.median_hours_to_complete != pytest.approx(scanned.median_hours_to_complete):
            return False
        kept = replace(kept, median_hours_to_complete=scanned.median_hours_to_complete)
    return kept == scanned
