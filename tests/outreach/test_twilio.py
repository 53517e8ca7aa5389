"""The real `twilio` SDK against a local server that speaks the Messages API: what arrives,
in which language, and what happens when Twilio says no, says "later", or says nothing."""

import socket

from survey.extensions import db
from survey.models import MessageKind, MessageStatus
from survey.outreach.backends import backend_from_config
from tests.fixtures.outreach import (
    NOW,
    invitation_for_body,
    later,
    messages_of,
)
from tests.outreach.twilio_server import ACCOUNT_SID


def test_invitations_and_reminders_arrive_with_the_right_text_and_language(
    enrolled, twilio, dispatch, fake_twilio
):
    spanish = enrolled("ES-1", phone="+34612345678", language="es")
    turkish = enrolled("TR-1", phone="+905321234567", language="tr", timezone="Europe/Istanbul")
    english = enrolled("EN-1", phone="+447911123456", language="en", timezone="Europe/London")
    assert dispatch(twilio).sent == 3
    assert dispatch(twilio, at=later(days=4)).sent == 3

    # The baseline opens before the index date: the texts ask how the patient is now.
    # The site has no SMS name yet: its own ("Almería Colorectal Unit") says what it treats,
    # so the texts start with the neutral name, in the patient's language.
    es = fake_twilio.bodies_to("+34612345678")
    assert es[0].startswith("Su centro: cuéntenos su estado antes del tratamiento")
    assert es[1].startswith("Su centro: recuerde contarnos su estado antes del")
    assert "baja: STOP" in es[0]
    tr = fake_twilio.bodies_to("+905321234567")
    assert tr[0].startswith("Kliniğiniz: Tedavi öncesi")
    assert "Hatırlatma" in tr[1] and "STOP" in tr[1]
    en = fake_twilio.bodies_to("+447911123456")
    assert en[0].startswith("Your clinic: how are you before your treatment?")
    assert "Reply STOP" in en[0]
    assert not any("Colorectal" in message.body for message in fake_twilio.received)
    for patient, bodies in ((spanish, es), (turkish, tr), (english, en)):
        assert {invitation_for_body(body).patient_id for body in bodies} == {patient.id}
    assert {m.sender for m in fake_twilio.received} == {"MG" + "1" * 32}


def test_after_the_index_date_the_texts_ask_how_the_patient_has_been_since_treatment(
    enrolled, twilio, dispatch, fake_twilio
):
    enrolled("EN-2", phone="+447911123456", language="en", timezone="Europe/London")
    assert dispatch(twilio).sent == 1  # the baseline, a week before the index date
    # Three weeks after the index date the next timepoint opens.
    assert dispatch(twilio, at=later(days=29)).sent == 1
    first, follow_up = fake_twilio.bodies_to("+447911123456")
    assert "how are you before your treatment" in first
    assert "how have you been since your treatment" in follow_up
    assert "before" not in follow_up
    assert invitation_for_body(follow_up).timepoint == "3 weeks"


def test_the_provider_id_segments_and_status_callback_are_recorded(
    enrolled, twilio, dispatch, fake_twilio
):
    patient = enrolled(language="tr", phone="+905321234567", timezone="Europe/Istanbul")
    dispatch(twilio)
    message = messages_of(patient, MessageKind.INVITATION)[0]
    [received] = fake_twilio.received
    assert message.provider_sid == received.sid
    assert message.status == MessageStatus.QUEUED and message.provider_status == "accepted"
    assert message.segments == 2  # Turkish letters: UCS-2
    assert received.status_callback == (
        f"https://survey.example.org/webhooks/twilio/status?message={message.id}"
    )


def test_a_sender_number_can_stand_in_for_a_messaging_service(
    enrolled, twilio_app, dispatch, fake_twilio
):
    twilio_app.config.update(TWILIO_MESSAGING_SERVICE_SID=None, TWILIO_FROM="+15005550006")
    enrolled()
    dispatch(backend_from_config(twilio_app.config, twilio_app.instance_path))
    assert fake_twilio.received[0].sender == "+15005550006"


def test_429_and_500_are_retried_with_backoff_until_twilio_accepts(
    enrolled, twilio, dispatch, fake_twilio
):
    patient = enrolled()
    fake_twilio.answer_next(("http", 429), ("http", 500))
    report = dispatch(twilio)
    assert report.retrying == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.reason) == (MessageStatus.PENDING, "rate_limited")
    first_retry = message.due_at
    assert dispatch(twilio, at=NOW + (first_retry - NOW) / 2).attempted == 0  # not before
    assert dispatch(twilio, at=first_retry).retrying == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert message.reason == "provider_error"
    assert message.due_at - first_retry > first_retry - NOW  # each wait longer than the last
    assert dispatch(twilio, at=message.due_at).sent == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 3)
    assert len(fake_twilio.received) == 1 and fake_twilio.requests == 3


def test_an_invalid_number_is_recorded_as_failed_with_the_reason(
    enrolled, twilio, dispatch, fake_twilio
):
    patient = enrolled()
    fake_twilio.answer_next(("error", 21211))
    assert dispatch(twilio).failed == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.error_code) == (MessageStatus.FAILED, 21211)
    assert dispatch(twilio, at=later(hours=1)).attempted == 0  # never retried by itself
    assert fake_twilio.requests == 1


def test_twilio_saying_the_patient_opted_out_stops_everything(
    enrolled, twilio, dispatch, fake_twilio
):
    patient = enrolled()
    fake_twilio.answer_next(("error", 21610))
    dispatch(twilio)
    db.session.refresh(patient)
    assert NOW <= patient.opted_out_at < later(hours=0.1)
    assert dispatch(twilio, at=later(days=4)).attempted == 0
    assert fake_twilio.requests == 1


def test_a_reply_slower_than_the_timeout_means_unknown_and_is_not_resent(
    enrolled, twilio, dispatch, fake_twilio
):
    patient = enrolled()
    fake_twilio.answer_next(("slow", 1.5))  # read timeout is 0.5 s; Twilio did accept it
    assert dispatch(twilio).review == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.reason) == (MessageStatus.REVIEW, "no_answer")
    assert dispatch(twilio, at=later(hours=2)).attempted == 0
    assert len(fake_twilio.received) == 1


def test_a_dropped_connection_after_sending_means_unknown(enrolled, twilio, dispatch, fake_twilio):
    patient = enrolled()
    fake_twilio.answer_next(("drop",))
    assert dispatch(twilio).review == 1
    assert messages_of(patient, MessageKind.INVITATION)[0].reason == "connection_lost"


def test_a_refused_connection_never_sent_anything_so_it_is_retried(enrolled, twilio_app, dispatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    twilio_app.config["TWILIO_API_URL"] = f"http://127.0.0.1:{port}"
    patient = enrolled()
    report = dispatch(backend_from_config(twilio_app.config, twilio_app.instance_path))
    assert report.retrying == 1
    assert messages_of(patient, MessageKind.INVITATION)[0].reason == "no_connection"


def test_wrong_credentials_are_retried_not_failed(enrolled, twilio_app, dispatch, fake_twilio):
    twilio_app.config["TWILIO_AUTH_TOKEN"] = "not-the-token"  # noqa: S105
    patient = enrolled()
    dispatch(backend_from_config(twilio_app.config, twilio_app.instance_path))
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert (message.status, message.reason) == (MessageStatus.PENDING, "credentials")


def test_quiet_hours_hold_across_time_zones(enrolled, twilio, dispatch, fake_twilio):
    # 10:00 UTC: 11:00 Madrid, 05:00 New York, 19:00 Tokyo, 23:00 Auckland.
    enrolled("MAD", phone="+34612345678", timezone="Europe/Madrid")
    enrolled("NYC", phone="+12015550123", language="en", timezone="America/New_York")
    enrolled("TYO", phone="+818012345678", language="en", timezone="Asia/Tokyo")
    enrolled("AKL", phone="+64211234567", language="en", timezone="Pacific/Auckland")
    report = dispatch(twilio)
    assert (report.sent, report.waiting) == (2, 2)
    assert {m.to for m in fake_twilio.received} == {"+34612345678", "+818012345678"}
    assert dispatch(twilio, at=later(hours=3.9)).sent == 0  # 13:54 UTC: 08:54 in New York
    assert dispatch(twilio, at=later(hours=4)).sent == 1  # 14:00 UTC: 09:00 in New York
    assert fake_twilio.received[-1].to == "+12015550123"
    assert dispatch(twilio, at=later(hours=9.5)).sent == 0  # 19:30 UTC: 08:30 in Auckland
    assert dispatch(twilio, at=later(hours=10)).sent == 1  # 20:00 UTC: 09:00 in Auckland
    assert fake_twilio.received[-1].to == "+64211234567"


def test_the_account_sid_is_the_one_configured(twilio, enrolled, dispatch, fake_twilio):
    enrolled()
    dispatch(twilio)
    assert twilio.client.account_sid == ACCOUNT_SID
