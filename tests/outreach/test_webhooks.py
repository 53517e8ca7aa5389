"""Twilio's webhooks, signed by the SDK's own code: status reports move messages forward only,
replies STOP/START/HELP change consent or get the clinic's contact, and anything unsigned,
forged or replayed changes nothing."""

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import AuditEvent, MessageKind, MessageStatus, SmsSender, WebhookReceipt
from tests.fixtures.outreach import NOW, messages_of
from tests.fixtures.patients import BLNS_PATH
from tests.outreach.twilio_server import AUTH_TOKEN

STATUS = "/webhooks/twilio/status"
INBOUND = "/webhooks/twilio/inbound"


@pytest.fixture
def sent(enrolled, twilio, dispatch, twilio_app):
    """A patient whose invitation Twilio has accepted."""
    patient = enrolled()
    dispatch(twilio)
    return patient, messages_of(patient, MessageKind.INVITATION)[0]


def report(client, sign, message, status, error_code=None, idempotency=None, path=None):
    path = path or f"{STATUS}?message={message.id}"
    form = {
        "MessageSid": message.provider_sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+34612345678",
    }
    if error_code:
        form["ErrorCode"] = str(error_code)
    return client.post(path, data=form, headers=sign(path, form, idempotency=idempotency))


def test_a_signed_delivery_report_marks_the_message_delivered(client, sign, sent):
    _patient, message = sent
    assert report(client, sign, message, "sent").status_code == 204
    assert report(client, sign, message, "delivered").status_code == 204
    db.session.refresh(message)
    assert message.status == MessageStatus.DELIVERED
    assert message.finished_at is not None
    assert [e.status for e in message.events][-2:] == ["sent", "delivered"]


def test_a_late_sent_never_overwrites_delivered(client, sign, sent):
    _patient, message = sent
    report(client, sign, message, "delivered")
    report(client, sign, message, "sent")
    report(client, sign, message, "queued")
    db.session.refresh(message)
    assert message.status == MessageStatus.DELIVERED


def test_undelivered_with_an_error_code_is_explained(client, sign, sent):
    _patient, message = sent
    report(client, sign, message, "undelivered", error_code=30003)
    db.session.refresh(message)
    assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, 30003)
    report(client, sign, message, "delivered")  # final statuses are final
    db.session.refresh(message)
    assert message.status == MessageStatus.UNDELIVERED


def test_a_failed_report_for_an_unsubscribed_number_opts_the_patient_out(client, sign, sent):
    patient, message = sent
    report(client, sign, message, "failed", error_code=21610)
    db.session.refresh(patient)
    assert patient.opted_out


def test_a_report_resolves_a_send_whose_answer_never_came(client, sign, sent):
    _patient, message = sent
    sid = message.provider_sid
    message.status, message.provider_sid, message.reason = MessageStatus.REVIEW, None, "no_answer"
    db.session.commit()
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    path = f"{STATUS}?message={message.id}"
    assert client.post(path, data=form, headers=sign(path, form)).status_code == 204
    db.session.refresh(message)
    assert (message.status, message.provider_sid) == (MessageStatus.DELIVERED, sid)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "forged"},
        "wrong token",
        "wrong url",
        "tampered",
    ],
)
def test_unsigned_or_forged_reports_are_refused_and_change_nothing(client, sign, sent, headers):
    _patient, message = sent
    path = f"{STATUS}?message={message.id}"
    form = {"MessageSid": message.provider_sid, "MessageStatus": "delivered"}
    if headers == "wrong token":
        headers = sign(path, form, token="another-token")  # noqa: S106
    elif headers == "wrong url":
        headers = sign(path, form, public_url="https://evil.example")
    elif headers == "tampered":
        headers = sign(path, {**form, "MessageStatus": "sent"})
    response = client.post(path, data=form, headers=headers)
    assert response.status_code == 403
    db.session.refresh(message)
    assert message.status == MessageStatus.QUEUED
    assert db.session.scalar(select(func.count(WebhookReceipt.id))) == 0


def test_webhooks_are_refused_when_twilio_is_not_configured(client, sign, app):
    app.config["TWILIO_AUTH_TOKEN"] = None
    form = {"From": "+34612345678", "Body": "STOP"}
    assert client.post(INBOUND, data=form, headers=sign(INBOUND, form)).status_code == 403


def test_a_retried_webhook_changes_nothing_twice(client, sign, sent):
    patient, message = sent
    report(client, sign, message, "delivered", idempotency="abc-1")
    events = len(message.events)
    form = {"From": patient.phone, "Body": "HELP", "MessageSid": "SM" + "9" * 32}
    first = client.post(INBOUND, data=form, headers=sign(INBOUND, form, idempotency="abc-2"))
    again = client.post(INBOUND, data=form, headers=sign(INBOUND, form, idempotency="abc-2"))
    assert "<Message>" in first.text and "<Message>" not in again.text
    report(client, sign, message, "delivered", idempotency="abc-1")
    db.session.refresh(message)
    assert len(message.events) == events
    # Each webhook: a receipt of what its signature covers, and one of Twilio's token.
    keys = db.session.scalars(select(WebhookReceipt.key).order_by(WebhookReceipt.key)).all()
    assert keys == sorted(
        [
            f"status:{message.provider_sid}:delivered",
            "twilio:abc-1",
            "inbound:SM" + "9" * 32,
            "twilio:abc-2",
        ]
    )


def opted_out_after(client, sign, form, token: str, patient) -> bool:
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form, idempotency=token))
    assert response.status_code == 200
    db.session.refresh(patient)
    return patient.opted_out


def test_a_captured_stop_posted_again_with_a_fresh_token_changes_nothing(
    client, sign, enrolled, twilio_app
):
    patient = enrolled()
    stop = {"From": patient.phone, "Body": "STOP", "MessageSid": "SM" + "a" * 32}
    start = {"From": patient.phone, "Body": "START", "MessageSid": "SM" + "b" * 32}
    assert opted_out_after(client, sign, stop, "token-1", patient)
    assert not opted_out_after(client, sign, start, "token-2", patient)
    audited = db.session.scalar(select(func.count(AuditEvent.id)))
    # The attacker re-posts the captured, validly signed STOP: with a new token, and without.
    assert not opted_out_after(client, sign, stop, "token-never-seen", patient)
    assert not opted_out_after(client, sign, stop, None, patient)
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audited


def test_a_captured_start_posted_again_with_a_fresh_token_changes_nothing(
    client, sign, enrolled, twilio_app
):
    patient = enrolled()
    start = {"From": patient.phone, "Body": "START", "MessageSid": "SM" + "c" * 32}
    stop = {"From": patient.phone, "Body": "STOP", "MessageSid": "SM" + "d" * 32}
    assert not opted_out_after(client, sign, start, "token-1", patient)
    assert opted_out_after(client, sign, stop, "token-2", patient)
    assert opted_out_after(client, sign, start, "token-fresh", patient)


def test_a_captured_stop_is_still_refused_after_old_receipts_are_cleared(
    client, sign, enrolled, twilio_app, twilio, dispatch
):
    patient = enrolled()
    stop = {"From": patient.phone, "Body": "STOP", "MessageSid": "SM" + "e" * 32}
    start = {"From": patient.phone, "Body": "START", "MessageSid": "SM" + "f" * 32}
    assert opted_out_after(client, sign, stop, "token-1", patient)
    assert not opted_out_after(client, sign, start, "token-2", patient)
    for receipt in db.session.scalars(select(WebhookReceipt)):
        receipt.received_at = NOW - timedelta(days=60)
    db.session.commit()
    dispatch(twilio)  # clears receipts older than a week, but not those of patients' texts
    kept = db.session.scalars(select(WebhookReceipt.key).order_by(WebhookReceipt.key)).all()
    assert kept == ["inbound:SM" + "e" * 32, "inbound:SM" + "f" * 32]
    assert not opted_out_after(client, sign, stop, "token-3", patient)


def test_a_captured_status_report_posted_again_with_a_fresh_token_changes_nothing(
    client, sign, sent
):
    _patient, message = sent
    path = f"{STATUS}?message={message.id}"
    # A report on another copy of the message is noted each time it is processed.
    form = {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered"}
    db.session.refresh(message)
    events = len(message.events)
    for token in ("t-1", "t-2", None):
        response = client.post(path, data=form, headers=sign(path, form, idempotency=token))
        assert response.status_code == 204
    db.session.refresh(message)
    assert [event.reason for event in message.events[events:]] == ["another_copy"]


def test_a_text_without_its_message_id_is_left_alone(client, sign, enrolled, twilio_app):
    patient = enrolled()
    form = {"From": patient.phone, "Body": "STOP"}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form, idempotency="x"))
    assert response.status_code == 200 and "<Message>" not in response.text
    db.session.refresh(patient)
    assert not patient.opted_out


def test_stop_opts_out_start_opts_back_in_and_both_are_audited(client, sign, enrolled, twilio_app):
    patient = enrolled()
    form = {"From": patient.phone, "Body": " stop ", "MessageSid": "SM" + "1" * 32}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form))
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert "<Message>" not in response.text  # Twilio itself confirms STOP
    db.session.refresh(patient)
    assert patient.opted_out
    form = {"From": patient.phone, "Body": "START", "MessageSid": "SM" + "2" * 32}
    # Refused (403), the patient would stay opted out... and opted in never: check it was taken.
    assert client.post(INBOUND, data=form, headers=sign(INBOUND, form)).status_code == 200
    db.session.refresh(patient)
    assert not patient.opted_out
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["patient.opted_out", "patient.opted_in"]


@pytest.mark.parametrize(
    "opt_out_type, body",
    [("STOP", "Parar por favor"), (None, "BAJA"), (None, "İptal"), (None, "Unsubscribe.")],
)
def test_every_way_of_saying_stop_is_honoured(
    client, sign, enrolled, twilio_app, opt_out_type, body
):
    patient = enrolled()
    form = {"From": patient.phone, "Body": body, "MessageSid": "SM" + "3" * 32}
    if opt_out_type:
        form["OptOutType"] = opt_out_type
    assert client.post(INBOUND, data=form, headers=sign(INBOUND, form)).status_code == 200
    db.session.refresh(patient)
    assert patient.opted_out


@pytest.mark.parametrize(
    "language, contact, expected",
    [
        ("es", "+34 950 000 000", "contacte con nosotros en +34 950 000 000"),
        ("tr", "+90 312 000 00 00", "Yardım için bize ulaşın: +90 312 000 00 00"),
        ("en", "", "please contact your clinic"),
    ],
)
def test_help_gets_the_clinics_contact_in_the_patients_language(
    client, sign, enrolled, site, twilio_app, language, contact, expected
):
    site.contact = contact
    db.session.add(SmsSender(site_id=site.id, name="Hospital Torrecárdenas"))
    db.session.commit()
    patient = enrolled(language=language)
    form = {"From": patient.phone, "Body": "help", "MessageSid": "SM" + "4" * 32}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form))
    assert expected in response.text
    assert "Hospital Torrecárdenas:" in response.text
    assert not patient.opted_out


def test_with_advanced_opt_out_twilio_answers_help_itself(client, sign, enrolled, twilio_app):
    patient = enrolled()
    form = {"From": patient.phone, "Body": "AYUDA", "OptOutType": "HELP", "MessageSid": "SM5"}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form))
    assert "<Message>" not in response.text


def test_other_replies_are_noted_and_their_text_stays_out_of_the_audit(
    client, sign, enrolled, twilio_app
):
    patient = enrolled()
    form = {"From": patient.phone, "Body": "I have pain, who is this?", "MessageSid": "SM6"}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form))
    assert response.status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.replied"))
    assert event.subject_id == patient.id
    assert "pain" not in repr(event.detail)


def test_a_text_from_an_unknown_number_is_answered_with_nothing(client, sign, twilio_app):
    form = {"From": "+34699999999", "Body": "HELP", "MessageSid": "SM7"}
    response = client.post(INBOUND, data=form, headers=sign(INBOUND, form))
    assert response.status_code == 200 and "<Message>" not in response.text


def shared_key_signature(secret: str, url: str, form: dict) -> str:
    payload = url + "".join(f"{key}{form[key]}" for key in sorted(form))
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_webhooks_signed_with_a_shared_key_need_that_key(client, enrolled, twilio_app):
    patient = enrolled()
    form = {"From": patient.phone, "Body": "STOP", "MessageSid": "SM8"}
    url = "https://survey.example.org" + INBOUND
    headers = {
        "X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_SHA256",
        "X-Twilio-Signature": shared_key_signature("shared-secret", url, form),
    }
    assert client.post(INBOUND, data=form, headers=headers).status_code == 403
    twilio_app.config["TWILIO_WEBHOOK_SIGNING_KEY"] = "shared-secret"
    assert client.post(INBOUND, data=form, headers=headers).status_code == 200
    db.session.refresh(patient)
    assert patient.opted_out
    # The auth token does not stand in for the shared key.
    headers["X-Twilio-Signature"] = shared_key_signature(AUTH_TOKEN, url, form)
    assert client.post(INBOUND, data=form, headers=headers).status_code == 403


def test_webhooks_need_no_csrf_token_but_staff_forms_do(client, sign, sent):
    _patient, message = sent
    assert report(client, sign, message, "delivered").status_code == 204


def test_hostile_webhook_fields_never_break_anything(client, sign, sent):
    import json
    from urllib.parse import quote

    patient, message = sent
    hostile = [text for text in json.loads(BLNS_PATH.read_text(encoding="utf-8")) if text][::5]
    assert len(hostile) > 50
    for number, text in enumerate(hostile):
        form = {"From": text, "Body": text, "MessageSid": f"SMX{number}", "OptOutType": text[:10]}
        assert client.post(INBOUND, data=form, headers=sign(INBOUND, form)).status_code == 200
        form = {"MessageSid": text[:64], "MessageStatus": text, "ErrorCode": text}
        path = f"{STATUS}?message={quote(text[:20])}"
        response = client.post(path, data=form, headers=sign(path, form))
        assert response.status_code == 204, text
    db.session.refresh(patient)
    db.session.refresh(message)
    assert not patient.opted_out and message.status == MessageStatus.QUEUED
