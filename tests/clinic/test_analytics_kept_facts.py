"""The facts each invitation keeps for the completion analytics (first text, reminders before
the answers, way of answering) follow every change as it happens: a text claimed by the
dispatcher, one that turned out not to have gone, reminders before and after the answers,
answers given on paper, a tablet code used."""

from datetime import timedelta

from sqlalchemy import select, update

from survey.domain import handoff
from survey.domain.analytics import refresh_invitation_facts
from survey.domain.invitations import create_invitation
from survey.extensions import db
from survey.models import Invitation, Message, MessageKind, MessageStatus, ResponseMode
from survey.outreach.message_status import transition
from tests.clinic.analytics_data import NOW, answered, handed_to_tablet
from tests.fixtures.outreach import (  # noqa: F401 (fixtures)
    console,
    dispatch,
    enrolled,  # noqa: F811 (the fixture imported above)
    messages_of,
    settings,
)


def kept(invitation):
    db.session.expire(invitation)
    return (invitation.first_text_at, invitation.reminders_before, invitation.answer_mode)


def pending(invitation, kind, due_at) -> Message:
    message = Message(
        patient_id=invitation.patient_id,
        invitation_id=invitation.id,
        kind=kind,
        status=MessageStatus.PENDING,
        due_at=due_at,
    )
    db.session.add(message)
    db.session.commit()
    return message


def send(message, at) -> None:
    transition(message, MessageStatus.SENDING, at=at)
    db.session.commit()


def test_each_change_updates_the_kept_facts(site, make_patient, make_user):
    patient = make_patient(site, reference="FACTS")
    opens = NOW - timedelta(days=20)
    invitation = create_invitation(db.session, patient, "baseline", opens_at=opens)
    db.session.commit()
    assert kept(invitation) == (None, 0, "web")

    first = pending(invitation, MessageKind.INVITATION, opens)
    send(first, opens)
    assert kept(invitation) == (opens, 0, "web")

    # A reminder claimed, then found not to have gone: it neither counts nor is the first.
    early = pending(invitation, MessageKind.REMINDER, opens - timedelta(hours=1))
    send(early, opens - timedelta(hours=1))
    assert kept(invitation)[0] == opens - timedelta(hours=1)
    transition(early, MessageStatus.FAILED, at=opens)
    db.session.commit()
    assert kept(invitation) == (opens, 0, "web")

    reminders = [
        pending(invitation, MessageKind.REMINDER, opens + timedelta(days=d)) for d in (2, 4)
    ]
    for day, reminder in zip((2, 4), reminders, strict=True):
        send(reminder, opens + timedelta(days=day))
    assert kept(invitation) == (opens, 0, "web")  # not answered: no reminder counted yet

    # A coordinator hands it to a clinic tablet: "tablet" before any answer.
    handed_to_tablet(invitation, make_user("coordinator", [site]))
    db.session.commit()
    assert kept(invitation)[2] == "tablet"

    # Completed on paper three days after opening: the one reminder sent before counts, and
    # the answers' way of answering wins over the tablet.
    answered(invitation, ResponseMode.PAPER)
    invitation.completed_at = opens + timedelta(days=3)
    db.session.commit()
    assert kept(invitation) == (opens, 1, "paper")
    late = pending(invitation, MessageKind.REMINDER, opens + timedelta(days=5))
    send(late, opens + timedelta(days=5))
    assert kept(invitation) == (opens, 1, "paper")  # after the answers: not needed


def test_a_text_the_dispatcher_sends_is_the_invitations_first(
    enrolled,  # noqa: F811 (the fixture imported above)
    console,  # noqa: F811 (the fixture imported above)
    dispatch,  # noqa: F811 (the fixture imported above)
):
    """The dispatcher moves its messages with Core statements, which no flush sees: its
    steps keep the facts themselves (before, an invitation texted by it counted as "no text"
    and was never timed)."""
    patient = enrolled()
    assert dispatch(console).sent == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    invitation = db.session.get(Invitation, message.invitation_id)
    assert message.sent_at is not None
    assert kept(invitation) == (message.sent_at, 0, "web")
    assert invitation.counted_as[5] == 1  # counted as texted


def test_a_tablet_code_redeemed_makes_the_invitation_a_tablets(site, make_patient, make_user):
    """A tablet uses its code with a Core UPDATE no flush sees: redeeming keeps the facts
    itself (before, the invitation stayed "web")."""
    patient = make_patient(site, reference="TABLET")
    invitation = create_invitation(
        db.session, patient, "baseline", opens_at=NOW - timedelta(days=1)
    )
    db.session.commit()
    code = handoff.make_code(db.session, invitation, make_user("coordinator", [site]), now=NOW)
    db.session.commit()
    assert handoff.redeem(db.session, code, now=NOW + timedelta(minutes=1)) is not None
    db.session.commit()
    assert kept(invitation) == (None, 0, "tablet")
    assert invitation.counted_as[6:8] == ["tablet", 1]  # counted as a tablet's, opened


def test_facts_kept_through_the_apps_session_are_counted_as_it_commits(site, make_patient):
    """The dispatcher and the command line pass Flask-SQLAlchemy's `db.session` (a scoped
    session): the counts move as it commits, as for a plain Session, so the count rows every
    answer to that day's invitations updates are locked for the commit alone."""
    patient = make_patient(site, reference="SCOPED")
    opens = NOW - timedelta(days=2)
    invitation = create_invitation(db.session, patient, "baseline", opens_at=opens)
    db.session.commit()
    counted_before = list(invitation.counted_as)
    message = pending(invitation, MessageKind.INVITATION, opens)
    db.session.execute(
        update(Message).where(Message.id == message.id).values(sent_at=opens),
        execution_options={"synchronize_session": False},
    )
    refresh_invitation_facts(db.session, [invitation.id])
    counted_now = db.session.scalar(
        select(Invitation.counted_as).where(Invitation.id == invitation.id)
    )
    assert counted_now == counted_before  # not yet: at the commit
    db.session.commit()
    assert kept(invitation)[0] == opens
    assert invitation.counted_as[5] == 1  # counted as texted
