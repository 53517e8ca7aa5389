"""The dispatcher's rules, told with the console backend and a scripted one: what is due goes
once, what is not needed is cancelled, what may have gone is never resent blindly."""

import itertools
import logging
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select

from survey.extensions import db
from survey.models import (
    InvitationLink,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    PatientStatus,
)
from survey.outreach.backends import Outcome, SendResult
from survey.outreach.backends.console import read_outbox
from survey.outreach.dispatch import dispatch_due
from survey.outreach.dispatch_settings import DispatchSettings
from tests.conftest import logged_by
from tests.fixtures.outreach import NOW, invitation_for_body, later, messages_of

SIDS = itertools.count(1)  # provider ids are unique across backends, as Twilio's are


class Scripted:
    """A backend that answers from a script and remembers what it was asked to send."""

    name = "scripted"

    def __init__(self, *results: SendResult):
        self.results = list(results)
        self.sent = []

    def send(self, sms):
        self.sent.append(sms)
        return (
            self.results.pop(0)
            if self.results
            else SendResult(
                Outcome.ACCEPTED, provider_sid=f"SM{next(SIDS):032d}", provider_status="queued"
            )
        )


def test_a_due_invitation_goes_once_with_a_working_link(enrolled, console, dispatch, app):
    patient = enrolled()
    report = dispatch(console)
    assert report.sent == 1
    again = dispatch(console)
    assert again.sent == 0
    [entry] = read_outbox(console.outbox, [patient.site_id])
    assert entry["to"] == "+34612345678"
    # The baseline opens before the index date: it asks how the patient is now.
    assert "cuéntenos su estado antes del tratamiento" in entry["body"]
    assert invitation_for_body(entry["body"]).timepoint == "baseline"
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.attempts, message.language) == (MessageStatus.SENT, 1, "es")


def test_the_text_and_its_link_are_never_stored_or_logged(enrolled, console, dispatch, caplog):
    patient = enrolled()
    # Alembic's fileConfig (the schema fixture ran the migrations in this process) disables
    # loggers that already existed; a real dispatcher process never runs migrations.
    logging.getLogger("survey.outreach.console").disabled = False
    with logged_by(caplog, "survey"):
        dispatch(console)
    [entry] = read_outbox(console.outbox, [patient.site_id])
    token = re.search(r"/s/([A-Za-z0-9_-]{22})", entry["body"]).group(1)
    assert token not in caplog.text
    assert "[link hidden]" in caplog.text
    # No column anywhere holds the token or the text.
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            assert token not in repr(row), table.name
            assert "preguntas" not in repr(row), table.name
    columns = {column["name"] for column in inspect(db.engine).get_columns("messages")}
    assert not columns & {"body", "text", "token", "link"}


def test_a_reminder_is_cancelled_once_the_invitation_is_answered(enrolled, console, dispatch):
    patient = enrolled()
    dispatch(console)
    invitation = patient.invitations[0]
    invitation.status = InvitationStatus.COMPLETED
    db.session.commit()
    report = dispatch(console, at=later(days=4))
    assert report.sent == 0
    reminder = messages_of(patient, MessageKind.REMINDER)[0]
    assert (reminder.status, reminder.reason) == (MessageStatus.CANCELLED, "completed")


def test_reminders_go_in_the_patients_language_after_the_invitation(enrolled, console, dispatch):
    patient = enrolled(language="tr", phone="+905321234567", timezone="Europe/Istanbul")
    dispatch(console)
    dispatch(console, at=later(days=4))
    bodies = [e["body"] for e in read_outbox(console.outbox, [patient.site_id])]
    # Newest first: the reminder, then the invitation, both for the time before treatment.
    assert "Hatırlatma" in bodies[0] and "Hatırlatma" not in bodies[1]
    assert all("Tedavi öncesi" in body or "tedavi öncesi" in body for body in bodies)
    assert invitation_for_body(bodies[0]) == invitation_for_body(bodies[1])
    assert bodies[0] != bodies[1]  # each text mints its own link


def test_a_reminder_never_arrives_before_its_invitation(enrolled, console, dispatch):
    patient = enrolled()
    first = messages_of(patient, MessageKind.INVITATION)[0]
    first.due_at = later(days=5)  # e.g. held back by a coordinator's change
    db.session.commit()
    report = dispatch(console, at=later(days=4))
    assert report.sent == 0
    reminder = messages_of(patient, MessageKind.REMINDER)[0]
    assert reminder.wait_reason == "waiting_for_invitation"
    assert reminder.due_at > first.due_at


def test_a_second_message_the_same_day_waits_for_the_next_morning(enrolled, console, dispatch):
    patient = enrolled()
    reminder = messages_of(patient, MessageKind.REMINDER)[0]
    dispatch(console)
    reminder.due_at = later(hours=1)
    db.session.commit()
    report = dispatch(console, at=later(hours=2))
    assert (report.sent, report.waiting) == (0, 1)
    db.session.refresh(reminder)
    assert reminder.wait_reason == "daily_limit"
    assert reminder.due_at == NOW.replace(hour=8) + timedelta(days=1)  # 09:00 tomorrow, Madrid
    assert dispatch(console, at=reminder.due_at).sent == 1


def test_paused_and_opted_out_patients_get_nothing_until_they_are_back(enrolled, console, dispatch):
    paused = enrolled("PAUSED")
    opted_out = enrolled("STOPPED", phone="+34622334455")
    paused.status = PatientStatus.PAUSED
    opted_out.opted_out_at = NOW
    db.session.commit()
    assert dispatch(console).sent == 0
    assert {m.status for m in messages_of(paused) + messages_of(opted_out)} == {
        MessageStatus.PENDING
    }
    paused.status, opted_out.opted_out_at = PatientStatus.ACTIVE, None
    db.session.commit()
    assert dispatch(console, at=later(hours=1)).sent == 2


def test_messages_of_an_invitation_that_expired_while_paused_are_cancelled(
    enrolled, console, dispatch
):
    patient = enrolled()
    patient.status = PatientStatus.PAUSED
    db.session.commit()
    dispatch(console)
    patient.status = PatientStatus.ACTIVE
    db.session.commit()
    report = dispatch(console, at=later(days=8))
    assert report.sent == 0
    reasons = {m.reason for m in messages_of(patient) if m.invitation.timepoint == "baseline"}
    assert reasons == {"expired"}


def test_transient_errors_back_off_exponentially_then_give_up(enrolled, settings, app):
    patient = enrolled()
    retry = SendResult(Outcome.RETRY, error_code=20500, reason="provider_error")
    backend = Scripted(*[retry] * 6)
    settings = DispatchSettings(settings.public_url, settings.rules, max_attempts=6)
    at, delays = NOW, []
    for _attempt in range(6):
        dispatch_due(db.session, backend, settings, now=at)
        db.session.expire_all()
        message = messages_of(patient, MessageKind.INVITATION)[0]
        if message.status == MessageStatus.PENDING:
            delays.append(message.due_at - at)
            at = message.due_at
    assert message.status == MessageStatus.FAILED and message.reason == "gave_up"
    assert len(backend.sent) == 6
    minutes = [delay / timedelta(minutes=1) for delay in delays]
    assert [round(m / 0.95) for m in minutes] == pytest.approx([1, 2, 4, 8, 16], abs=1)


def test_an_unknown_outcome_is_never_resent(enrolled, settings):
    patient = enrolled()
    backend = Scripted(SendResult(Outcome.UNKNOWN, reason="no_answer"))
    dispatch_due(db.session, backend, settings, now=NOW)
    dispatch_due(db.session, backend, settings, now=later(days=1))
    db.session.expire_all()
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.reason) == (MessageStatus.REVIEW, "no_answer")
    assert len(backend.sent) == 1


def test_a_send_left_unfinished_goes_to_review_after_the_grace_period(enrolled, settings):
    patient = enrolled()
    message = messages_of(patient, MessageKind.INVITATION)[0]
    message.status, message.claimed_at, message.attempts = MessageStatus.SENDING, NOW, 1
    db.session.commit()
    backend = Scripted()
    assert dispatch_due(db.session, backend, settings, now=later(hours=0.1)).stalled == 0
    assert dispatch_due(db.session, backend, settings, now=later(hours=1)).stalled == 1
    db.session.expire_all()
    assert (message.status, message.reason) == (MessageStatus.REVIEW, "dispatcher_stopped")
    assert backend.sent == []


def test_a_crashing_backend_leaves_the_message_for_review(enrolled, settings):
    class Broken:
        name = "broken"

        def send(self, sms):
            raise RuntimeError("boom")

    patient = enrolled()
    report = dispatch_due(db.session, Broken(), settings, now=NOW)
    assert report.review == 1
    db.session.expire_all()
    assert messages_of(patient, MessageKind.INVITATION)[0].reason == "backend_error"


def test_a_patient_without_a_number_fails_with_a_reason(enrolled, settings):
    patient = enrolled()
    patient.phone = None
    db.session.commit()
    report = dispatch_due(db.session, Scripted(), settings, now=NOW)
    assert report.failed == 1
    db.session.expire_all()
    assert messages_of(patient, MessageKind.INVITATION)[0].reason == "no_number"


def test_each_claim_mints_a_link_in_the_same_transaction(enrolled, settings):
    enrolled()
    backend = Scripted()
    dispatch_due(db.session, backend, settings, now=NOW)
    assert db.session.scalar(select(func.count(InvitationLink.id))) == 1
    assert len(backend.sent) == 1


def test_the_limit_bounds_one_pass(enrolled, settings):
    for n in range(5):
        enrolled(f"P-{n}", phone=f"+3461234567{n}")
    backend = Scripted()
    dispatch_due(db.session, backend, settings, now=NOW, limit=3)
    assert len(backend.sent) == 3
    assert (
        db.session.scalar(
            select(func.count(Message.id)).where(
                Message.status == MessageStatus.PENDING, Message.due_at <= NOW
            )
        )
        == 2
    )


class Killed(BaseException):
    """What a SIGKILL looks like from inside: the pass stops where it is, nothing recorded."""


class DiesOnSecondSend(Scripted):
    def send(self, sms):
        if len(self.sent) == 1:
            self.sent.append(sms)
            raise Killed
        return super().send(sms)


def test_a_dispatcher_killed_mid_pass_leaves_only_the_message_in_flight(enrolled, settings):
    numbers = [f"+3461234567{n}" for n in range(5)]
    for n, number in enumerate(numbers):
        enrolled(f"P-{n}", phone=number)
    dying = DiesOnSecondSend()
    with pytest.raises(Killed):
        dispatch_due(db.session, dying, settings, now=NOW)
    db.session.rollback()  # the process is gone: nothing it held in memory is written
    invitations = select(Message).where(
        Message.kind == MessageKind.INVITATION, Message.due_at <= NOW
    )
    statuses = sorted(m.status for m in db.session.scalars(invitations))
    assert statuses == sorted(
        [MessageStatus.QUEUED, MessageStatus.SENDING] + [MessageStatus.PENDING] * 3
    )

    # The next dispatcher, after the grace period: the one in flight may have gone (review),
    # the three never reached are sent, once each.
    backend = Scripted()
    report = dispatch_due(db.session, backend, settings, now=later(hours=1))
    db.session.expire_all()
    assert (report.stalled, report.sent) == (1, 3)
    in_flight = dying.sent[1].to
    assert sorted(sms.to for sms in dying.sent[:1] + backend.sent) == sorted(
        set(numbers) - {in_flight}
    )
    review = db.session.scalars(invitations.where(Message.status == MessageStatus.REVIEW)).all()
    assert [m.patient.phone for m in review] == [in_flight]
    assert [m.reason for m in review] == ["dispatcher_stopped"]
    assert all(m.attempts == 1 for m in db.session.scalars(invitations))


def test_a_claim_is_committed_before_its_own_send_and_not_before(enrolled, settings):
    for n in range(3):
        enrolled(f"P-{n}", phone=f"+3461234567{n}")
    seen = []

    class Watching(Scripted):
        def send(self, sms):
            # What another connection sees while this message is with the provider.
            with db.engine.connect() as other:
                seen.append(
                    sorted(
                        other.execute(
                            select(Message.status).where(
                                Message.kind == MessageKind.INVITATION, Message.due_at <= NOW
                            )
                        ).scalars()
                    )
                )
            return super().send(sms)

    dispatch_due(db.session, Watching(), settings, now=NOW)
    sending, pending, queued = MessageStatus.SENDING, MessageStatus.PENDING, MessageStatus.QUEUED
    assert seen == [
        sorted([sending, pending, pending]),
        sorted([queued, sending, pending]),
        sorted([queued, queued, sending]),
    ]


def test_with_sqlite_a_dispatcher_sends_one_at_a_time_whatever_the_setting(enrolled, settings):
    for n in range(3):
        enrolled(f"P-{n}", phone=f"+3461234567{n}")
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: on PostgreSQL the setting is honoured")
    in_flight, most = [], []

    class Counting(Scripted):
        def send(self, sms):
            in_flight.append(sms)
            most.append(len(in_flight))
            try:
                return super().send(sms)
            finally:
                in_flight.pop()

    report = dispatch_due(db.session, Counting(), replace(settings, concurrency=4), now=NOW)
    assert report.sent == 3 and max(most) == 1
