"""Outreach that respects phones, people and the provider (issue #15): limits per number,
replies in other words, channel alarms, quiet hours judged per message."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.models import (
    AuditEvent,
    ChannelAlarm,
    Message,
    MessageKind,
    MessageStatus,
    Reply,
    SmsSender,
)
from survey.outreach.dispatch import dispatch_due
from survey.outreach.message_status import InvalidTransition, transition
from tests.conftest import csrf_from
from tests.fixtures.outreach import NOW, later, messages_of

INBOUND = "/webhooks/twilio/inbound"
SHARED = "+34612345678"


@pytest.fixture
def coordinator(client, staff, site, make_user):
    user = make_user("coordinator", [site])
    staff.login(user.email)
    return user


def post_form(client, url, page_url="/clinic/follow-up/attention", **data):
    page = client.get(page_url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.text)})


def inbound(client, sign, body, phone=SHARED, sid="SM" + "a" * 32, **extra):
    form = {"From": phone, "Body": body, "MessageSid": sid, **extra}
    return client.post(INBOUND, data=form, headers=sign(INBOUND, form))


# Limits per phone number


def test_a_shared_phone_gets_one_text_a_day_across_patients_and_sites(
    enrolled, twilio, dispatch, fake_twilio, other_site
):
    first = enrolled("CHILD-1", phone=SHARED)
    second = enrolled("CHILD-2", phone=SHARED, enrol_site=other_site)
    report = dispatch(twilio)
    assert report.sent == 1 and report.waiting == 1
    assert len(fake_twilio.bodies_to(SHARED)) == 1
    [held] = [
        message
        for patient in (first, second)
        for message in messages_of(patient, MessageKind.INVITATION)
        if message.status == MessageStatus.PENDING and message.wait_reason
    ]
    assert held.wait_reason == "phone_daily_limit"
    assert held.due_at > NOW
    # The coordinator pages say why, in plain words.
    from survey.outreach.explain import explain

    assert "shared with another patient" in explain(held)
    # The next day the other patient's invitation goes.
    assert dispatch(twilio, at=later(days=1)).sent == 1
    assert len(fake_twilio.bodies_to(SHARED)) == 2


def test_per_patient_limits_still_hold_after_a_number_change(enrolled, twilio, dispatch):
    patient = enrolled("P-9", phone="+34612000001")
    assert dispatch(twilio).sent == 1
    message = db.session.get(Message, messages_of(patient)[0].id)
    assert message.phone == "+34612000001"
    # A reminder due the same day on a new number still waits for the patient's limit.
    patient.phone = "+34612000002"
    extra = Message(
        patient=patient, invitation=message.invitation, kind=MessageKind.REMINDER, due_at=NOW
    )
    db.session.add(extra)
    db.session.commit()
    dispatch(twilio, at=later(hours=1))
    assert db.session.get(Message, extra.id).wait_reason == "daily_limit"


# Never a condition-revealing name


def test_an_unnamed_site_sends_the_neutral_name_and_a_named_one_its_name(
    enrolled, twilio, dispatch, fake_twilio, site
):
    enrolled("EN-1", phone="+447911123456", language="en", timezone="Europe/London")
    dispatch(twilio)
    [body] = fake_twilio.bodies_to("+447911123456")
    assert body.startswith("Your clinic: ") and site.name not in body
    db.session.add(SmsSender(site_id=site.id, name="Hospital Central"))
    db.session.commit()
    enrolled("EN-2", phone="+447911123457", language="en", timezone="Europe/London")
    dispatch(twilio, at=later(hours=1))
    assert fake_twilio.bodies_to("+447911123457")[0].startswith("Hospital Central: ")


# Replies


@pytest.mark.parametrize(
    "body, language, confirmation",
    [
        ("Stop please", "en", "you will get no more messages"),
        ("No quiero mensajes", "es", "ya no le enviaremos mensajes"),
        ("Dur lütfen", "tr", "artık mesaj göndermeyeceğiz"),
        ("por favor, BAJA", "es", "ya no le enviaremos mensajes"),
        ("İPTAL!", "tr", "artık mesaj göndermeyeceğiz"),
    ],
)
def test_an_opt_out_in_other_words_opts_out_and_is_confirmed_in_the_patients_language(
    client, sign, enrolled, twilio_app, body, language, confirmation
):
    patient = enrolled(language=language)
    response = inbound(client, sign, body)
    assert response.status_code == 200
    db.session.refresh(patient)
    assert patient.opted_out
    assert confirmation in response.text.casefold()
    assert "START" in response.text
    assert db.session.scalar(select(Reply)) is None


@pytest.mark.parametrize("body", ["Thanks, I stopped the pills", "durum iyi", "stopwatch"])
def test_an_opt_out_word_counts_only_as_a_whole_word(client, sign, enrolled, twilio_app, body):
    patient = enrolled()
    inbound(client, sign, body)
    db.session.refresh(patient)
    assert not patient.opted_out


def test_a_bare_stop_is_left_to_twilio_to_confirm(client, sign, enrolled, twilio_app):
    patient = enrolled()
    response = inbound(client, sign, "STOP")
    db.session.refresh(patient)
    assert patient.opted_out and "<Message>" not in response.text


def test_free_text_reaches_needs_attention_and_is_marked_handled_with_an_audit(
    client, sign, enrolled, twilio_app, coordinator, other_site, make_patient
):
    patient = enrolled("P-REPLY")
    inbound(client, sign, "Tengo dolor, ¿me pueden llamar?")
    [reply] = db.session.scalars(select(Reply)).all()
    assert reply.patient_id == patient.id and reply.site_id == patient.site_id
    page = client.get("/clinic/follow-up/attention").text
    assert "P-REPLY" in page and "Tengo dolor, ¿me pueden llamar?" in page
    viewed = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "attention.view")
        .order_by(AuditEvent.id.desc())
    )
    assert viewed.detail["replies"] == [reply.id]
    # The text is health data: never in an audit detail.
    details = db.session.scalars(select(AuditEvent.detail)).all()
    assert not any("dolor" in repr(detail) for detail in details)
    response = post_form(client, f"/clinic/follow-up/replies/{reply.id}/handled")
    assert response.status_code == 302
    db.session.refresh(reply)
    assert reply.handled_at is not None and reply.handled_by_id == coordinator.id
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reply.handled"))
    assert "Tengo dolor" not in client.get("/clinic/follow-up/attention").text


def test_the_patient_page_keeps_the_history_of_replies_handled_or_not(
    client, sign, enrolled, twilio_app, coordinator
):
    patient = enrolled("P-HISTORY")
    inbound(client, sign, "Me duele al sentarme")
    inbound(client, sign, "Ya estoy mejor", sid="SM" + "b" * 32)
    first, second = db.session.scalars(select(Reply).order_by(Reply.id)).all()
    url = f"/clinic/follow-up/patients/{patient.id}"
    page = client.get(url).text
    assert page.index("Ya estoy mejor") < page.index("Me duele al sentarme")  # newest first
    assert page.count("Not handled") == 2
    viewed = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "followup.view")
        .order_by(AuditEvent.id.desc())
    )
    assert viewed.detail["replies"] == [second.id, first.id]
    response = post_form(
        client, f"/clinic/follow-up/replies/{first.id}/handled", url, back="patient"
    )
    assert response.status_code == 302 and response.location.endswith(f"{url}#replies")
    page = client.get(url).text
    assert page.count("Not handled") == 1
    assert f"by {coordinator.email}" in page and "Me duele al sentarme" in page
    assert "Me duele" not in client.get("/clinic/follow-up/attention").text


def test_a_reply_is_shown_only_to_its_patients_site(
    client, sign, enrolled, twilio_app, staff, make_user, site, other_site
):
    enrolled("P-OTHER", enrol_site=other_site)
    inbound(client, sign, "who is this?")
    [reply] = db.session.scalars(select(Reply)).all()
    staff.login(make_user("coordinator", [site]).email)
    assert "who is this?" not in client.get("/clinic/follow-up/attention").text
    page = client.get("/clinic/follow-up/attention")
    response = client.post(
        f"/clinic/follow-up/replies/{reply.id}/handled",
        data={"csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 404


def test_help_from_a_shared_phone_answers_in_the_language_of_the_last_texted_patient(
    client, sign, enrolled, twilio, dispatch, twilio_app
):
    spanish = enrolled("ES-1", phone=SHARED, language="es")
    enrolled("TR-1", phone=SHARED, language="tr")  # the newest patient with the number
    assert dispatch(twilio).sent == 1  # one a day for the number: the first patient's
    assert messages_of(spanish)[0].status == MessageStatus.QUEUED
    response = inbound(client, sign, "HELP")
    assert "Su centro: para cualquier consulta" in response.text


# Channel alarms


def test_a_21212_pauses_the_channel_shows_a_banner_and_resume_sends_each_once(
    client, enrolled, twilio, dispatch, fake_twilio, coordinator, site
):
    patients = [enrolled(f"P-{n}", phone=f"+3461200000{n}") for n in range(3)]
    fake_twilio.answer_next(("error", 21212))
    report = dispatch(twilio)
    assert report.sent == 0 and report.failed == 0 and fake_twilio.requests == 1
    alarm = db.session.get(ChannelAlarm, (site.id, "sms"))
    assert alarm is not None and alarm.error_code == 21212
    statuses = [messages_of(patient, MessageKind.INVITATION)[0].status for patient in patients]
    assert statuses == [MessageStatus.PENDING] * 3  # waiting, not failed
    # Another pass (another dispatcher) sends nothing while the channel is paused.
    assert dispatch(twilio, at=later(hours=1)).attempted == 0 and fake_twilio.requests == 1
    for page in ("/clinic/follow-up/", "/clinic/follow-up/attention", "/clinic/follow-up/texts"):
        html = client.get(page).text
        assert "are paused" in html and "sender number is not a valid phone number" in html
    response = post_form(client, f"/clinic/follow-up/channel/{site.id}/resume")
    assert response.status_code == 302
    assert db.session.get(ChannelAlarm, (site.id, "sms")) is None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "channel.resumed"))
    assert "are paused" not in client.get("/clinic/follow-up/").text
    assert dispatch(twilio, at=later(hours=2)).sent == 3
    assert dispatch(twilio, at=later(hours=3)).sent == 0
    for n in range(3):
        assert len(fake_twilio.bodies_to(f"+3461200000{n}")) == 1


def test_21611_queue_full_is_retried_not_failed(enrolled, twilio, dispatch, fake_twilio):
    patient = enrolled()
    fake_twilio.answer_next(("error", 21611))
    assert dispatch(twilio).retrying == 1
    message = messages_of(patient, MessageKind.INVITATION)[0]
    assert message.status == MessageStatus.PENDING and message.reason == "sender_queue_full"
    assert dispatch(twilio, at=later(hours=1)).sent == 1


def test_an_invalid_number_still_fails_only_its_message(enrolled, twilio, dispatch, fake_twilio):
    enrolled("P-1", phone="+34612000001")
    enrolled("P-2", phone="+34612000002")
    fake_twilio.answer_next(("error", 21211))
    report = dispatch(twilio)
    assert report.failed == 1 and report.sent == 1
    assert db.session.scalar(select(ChannelAlarm)) is None


# Delivery windows


def test_a_pass_that_crosses_quiet_hours_sends_nothing_after_they_start(
    enrolled, twilio, settings, fake_twilio
):
    for n in range(4):
        enrolled(f"P-{n}", phone=f"+3461200000{n}")  # Madrid: quiet hours from 19:00 UTC
    moments = iter(
        datetime(2026, 3, 2, 18, 50, tzinfo=UTC) + timedelta(minutes=4 * n) for n in range(20)
    )
    report = dispatch_due(
        db.session,
        twilio,
        settings,
        now=datetime(2026, 3, 2, 18, 50, tzinfo=UTC),
        clock=lambda: next(moments),
    )
    db.session.expire_all()
    # 18:50 and 18:54 go; at 18:58 too little time is left; at 19:02 quiet hours hold.
    assert report.sent == 2 and report.waiting == 2
    sent = db.session.scalars(select(Message).where(Message.sent_at.is_not(None))).all()
    assert len(sent) == 2
    assert all(message.sent_at < datetime(2026, 3, 2, 19, 0, tzinfo=UTC) for message in sent)
    # Each text may only be delivered until quiet hours start, then it expires.
    assert sorted(message.validity_period for message in fake_twilio.received) == [360, 600]
    waiting = db.session.scalars(
        select(Message.wait_reason).where(Message.wait_reason.is_not(None))
    ).all()
    assert waiting == ["quiet_hours", "quiet_hours"]


def test_every_status_change_goes_through_the_allowed_transitions(enrolled):
    patient = enrolled()
    [message, *_] = messages_of(patient)
    with pytest.raises(InvalidTransition):
        transition(message, MessageStatus.DELIVERED, at=NOW)
    transition(message, MessageStatus.CANCELLED, at=NOW, reason="cancelled_by_staff")
    assert message.finished_at == NOW and message.events[-1].reason == "cancelled_by_staff"
    with pytest.raises(InvalidTransition):
        transition(message, MessageStatus.SENDING, at=NOW)


# WhatsApp, through the same SDK


def test_a_whatsapp_patient_gets_the_template_with_the_name_and_link(
    enrolled, twilio_app, dispatch, fake_twilio, client, sign
):
    import json

    from survey.outreach.backends import backend_from_config

    twilio_app.config.update(
        TWILIO_WHATSAPP_FROM="+15005550006", TWILIO_WHATSAPP_CONTENT_SID="HX" + "b" * 32
    )
    backend = backend_from_config(twilio_app.config, twilio_app.instance_path)
    sms_patient = enrolled("SMS-1", phone="+34612000001")
    whatsapp_patient = enrolled("WA-1", phone="+34612000002", language="en")
    whatsapp_patient.channel = "whatsapp"
    db.session.commit()
    assert dispatch(backend).sent == 2
    by_number = {message.to: message for message in fake_twilio.received}
    assert by_number["+34612000001"].sender == "MG" + "1" * 32
    sent = by_number["whatsapp:+34612000002"]
    assert sent.sender == "whatsapp:+15005550006" and sent.content_sid == "HX" + "b" * 32
    variables = json.loads(sent.content_variables)
    assert variables["1"] == "Your clinic"
    assert variables["2"].startswith("https://survey.example.org/s/")
    assert messages_of(sms_patient)[0].status == MessageStatus.QUEUED
    # A reply from WhatsApp names the patient by the number after "whatsapp:".
    response = inbound(client, sign, "Stop please", phone="whatsapp:+34612000002")
    db.session.refresh(whatsapp_patient)
    assert whatsapp_patient.opted_out and "START" in response.text


def test_whatsapp_without_a_sender_pauses_only_the_whatsapp_channel(
    enrolled, twilio, dispatch, fake_twilio, site
):
    patient = enrolled("WA-2", phone="+34612000003")
    patient.channel = "whatsapp"
    db.session.commit()
    enrolled("SMS-2", phone="+34612000004")
    report = dispatch(twilio)
    assert report.sent == 1 and report.waiting == 1
    assert db.session.get(ChannelAlarm, (site.id, "whatsapp")).reason == "whatsapp_not_configured"
    assert db.session.get(ChannelAlarm, (site.id, "sms")) is None
    assert messages_of(patient)[0].status == MessageStatus.PENDING
