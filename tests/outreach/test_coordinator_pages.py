"""A coordinator's day on the follow-up pages: enrol, read the schedule, fix what failed.
Every page is scoped to the coordinator's own sites, every action is a POST with a CSRF token,
and every view and change lands in the audit trail."""

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import (
    AuditEvent,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    Schedule,
    SmsSender,
    utcnow,
)
from survey.outreach.patient_schedule import enrol
from survey.outreach.policy import next_allowed_time
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.conftest import csrf_from
from tests.fixtures.outreach import RULES, messages_of
from tests.fixtures.patients import BLNS_PATH
from tests.outreach.twilio_server import ACCOUNT_SID, AUTH_TOKEN

HOSTILE = [text for text in json.loads(BLNS_PATH.read_text(encoding="utf-8")) if text]


@pytest.fixture
def coordinator(client, staff, site, make_user):
    user = make_user("coordinator", [site])
    staff.login(user.email)
    return user


@pytest.fixture
def admin(client, staff, site, make_user):
    user = make_user("admin", [site])
    staff.login(user.email)
    return user


@pytest.fixture
def patient_now(site):
    """A patient enrolled today (real clock) whose baseline is open now."""

    def make(reference="P-100", phone="+34612345678", enrol_site=None, language="es"):
        now = utcnow()
        patient, _ = enrol(
            db.session,
            enrol_site or site,
            reference,
            phone,
            language,
            None,
            (now + timedelta(days=7)).date(),
            ensure_default_schedule(db.session),
            now,
            RULES,
        )
        db.session.commit()
        return patient

    return make


def submit(client, url, data, page_url=None):
    page = client.get(page_url or url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.text)})


def action(client, url, back="patient", page_url="/clinic/follow-up/"):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_from(page.text), "back": back})


def enrol_form(**overrides):
    today = date.today()
    data = {
        "reference": "ES-42",
        "phone": "+34 612 345 678",
        "language": "es",
        "timezone": "Europe/Madrid",
        "index_date": str(today + timedelta(days=20)),
        "schedule_id": "0",
    }
    data.update(overrides)
    return data


def test_a_coordinator_enrols_a_patient_and_sees_the_schedule(client, coordinator, site):
    schedule_id = ensure_default_schedule(db.session).id
    db.session.commit()
    response = submit(
        client, "/clinic/follow-up/enrol", enrol_form(schedule_id=schedule_id, site_id=site.id)
    )
    assert response.status_code == 302
    patient = db.session.scalar(select(Patient).where(Patient.reference == "ES-42"))
    assert patient.phone == "+34612345678"
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert "ES-42 is enrolled" in page.text
    for label in ("baseline", "3 weeks", "3 months", "6 months", "12 months"):
        assert label in page.text
    assert "Scheduled" in page.text
    assert len(messages_of(patient)) > 5
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "patient.enrol" in actions and "followup.view" in actions


@pytest.mark.parametrize(
    "phone, message",
    [
        ("+34 912 345 678", "not a mobile number"),
        ("612345678", "international format"),
        ("+34 000 000 000", "does not exist"),
        ("call me", "not a phone number"),
    ],
)
def test_a_landline_or_invalid_number_is_refused_with_a_clear_message(
    client, coordinator, site, phone, message
):
    schedule_id = ensure_default_schedule(db.session).id
    db.session.commit()
    response = submit(
        client,
        "/clinic/follow-up/enrol",
        enrol_form(phone=phone, schedule_id=schedule_id, site_id=site.id),
    )
    assert response.status_code == 200
    assert message in response.text
    assert db.session.scalar(select(func.count(Patient.id))) == 0


def test_a_taken_reference_is_refused(client, coordinator, site, patient_now):
    patient_now("ES-42")
    response = submit(client, "/clinic/follow-up/enrol", enrol_form(site_id=site.id))
    assert "already has a patient with reference" in response.text


@pytest.mark.parametrize("field", ["reference", "phone", "timezone", "index_date", "language"])
def test_hostile_input_on_the_enrolment_form_never_breaks_it(client, coordinator, site, field):
    page = client.get("/clinic/follow-up/enrol")
    token = csrf_from(page.text)
    assert HOSTILE[::7]
    for text in HOSTILE[::7]:
        data = {**enrol_form(site_id=site.id, schedule_id="0"), field: text, "csrf_token": token}
        response = client.post("/clinic/follow-up/enrol", data=data)
        assert response.status_code in (200, 302), text
    db.session.rollback()


def test_clinicians_and_visitors_cannot_use_the_follow_up_pages(client, staff, site, make_user):
    assert client.get("/clinic/follow-up/").status_code == 302
    staff.login(make_user("clinician", [site]).email)
    for url in (
        "/clinic/follow-up/",
        "/clinic/follow-up/attention",
        "/clinic/follow-up/enrol",
        "/clinic/follow-up/texts",
        "/clinic/follow-up/schedules",
    ):
        assert client.get(url).status_code == 403, url


def test_another_sites_patient_and_messages_are_not_found(
    client, coordinator, other_site, patient_now
):
    theirs = patient_now("TR-9", phone="+905321234567", enrol_site=other_site, language="tr")
    message = messages_of(theirs)[0]
    invitation = theirs.invitations[0]
    for url in (
        f"/clinic/follow-up/patients/{theirs.id}",
        f"/clinic/follow-up/patients/{theirs.id}/edit",
        f"/clinic/follow-up/patients/{theirs.id}/withdraw",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/clinic/follow-up/messages/{message.id}/cancel",
        f"/clinic/follow-up/messages/{message.id}/send-now",
        f"/clinic/follow-up/invitations/{invitation.id}/resend",
        f"/clinic/follow-up/patients/{theirs.id}/pause",
    ):
        assert action(client, url).status_code == 404, url
    assert "TR-9" not in client.get("/clinic/follow-up/").text
    db.session.refresh(message)
    assert message.status == MessageStatus.PENDING


def test_the_list_shows_the_next_invitation_and_the_last_message(client, coordinator, patient_now):
    patient = patient_now()
    message = messages_of(patient, MessageKind.INVITATION)[0]
    message.status, message.attempts, message.claimed_at = MessageStatus.DELIVERED, 1, utcnow()
    patient.opted_out_at = utcnow()
    db.session.commit()
    page = client.get("/clinic/follow-up/").text
    assert "P-100" in page and "baseline" in page and "Delivered" in page
    assert "Opted out (replied STOP)" in page
    assert "P-100" in client.get("/clinic/follow-up/?status=opted_out").text
    assert "P-100" not in client.get("/clinic/follow-up/?q=ZZZ").text


def test_a_new_index_date_moves_unsent_invitations(client, coordinator, patient_now):
    patient = patient_now()
    before = {i.timepoint: i.opens_at for i in patient.invitations}
    new_date = patient.index_date + timedelta(days=14)
    response = submit(
        client,
        f"/clinic/follow-up/patients/{patient.id}/edit",
        {
            "phone": patient.phone,
            "language": "es",
            "timezone": patient.timezone,
            "index_date": str(new_date),
            "schedule_id": patient.schedule_id,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    after = {i.timepoint: i.opens_at for i in patient.invitations if i.status == "open"}
    assert after["3 months"] - before["3 months"] == timedelta(days=14)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.edit"))
    assert event.detail["index_date"] == [str(new_date - timedelta(days=14)), str(new_date)]


def fail(message, code, status=MessageStatus.FAILED):
    message.status, message.error_code, message.attempts = status, code, 1
    message.claimed_at = message.finished_at = utcnow()
    message.reason = "refused"
    db.session.commit()


def test_the_attention_queue_explains_failures_in_plain_words(client, coordinator, patient_now):
    patient = patient_now()
    fail(messages_of(patient, MessageKind.INVITATION)[0], 21211)
    unknown = patient_now("P-200", phone="+34622334455")
    review = messages_of(unknown, MessageKind.INVITATION)[0]
    review.status, review.reason, review.attempts = MessageStatus.REVIEW, "no_answer", 1
    db.session.commit()
    page = client.get("/clinic/follow-up/attention").text
    assert "The number is not a valid phone number. Check the digits and edit the number." in page
    assert "did not answer in time" in page
    assert "Edit number" in page and "Send again" in page
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "attention.view"))


def test_fixing_a_failed_number_sends_the_failed_message_again(client, coordinator, patient_now):
    patient = patient_now()
    failed = messages_of(patient, MessageKind.INVITATION)[0]
    fail(failed, 21614)
    response = submit(
        client,
        f"/clinic/follow-up/patients/{patient.id}/edit",
        {
            "phone": "+34 622 334 455",
            "language": "es",
            "timezone": patient.timezone,
            "index_date": str(patient.index_date),
            "schedule_id": patient.schedule_id,
            "resend_failed": "y",
        },
    )
    page = client.get(response.headers["Location"]).text
    assert "1 failed message will be sent again" in page
    db.session.expire_all()
    assert patient.phone == "+34622334455"
    assert failed.resolution == "retried"
    again = db.session.scalar(select(Message).where(Message.retry_of_id == failed.id))
    assert again.status == MessageStatus.PENDING and again.created_by_id == coordinator.id


def test_retry_and_dismiss_from_the_attention_queue(client, coordinator, patient_now):
    patient = patient_now()
    failed = messages_of(patient, MessageKind.INVITATION)[0]
    fail(failed, 30003, MessageStatus.UNDELIVERED)
    response = action(client, f"/clinic/follow-up/messages/{failed.id}/retry", back="attention")
    assert response.headers["Location"] == "/clinic/follow-up/attention"
    db.session.expire_all()
    assert failed.resolution == "retried"
    again = action(client, f"/clinic/follow-up/messages/{failed.id}/retry", back="attention")
    assert (
        "Someone has already dealt with this message" in client.get(again.headers["Location"]).text
    )
    other = patient_now("P-300", phone="+34622334455")
    failed = messages_of(other, MessageKind.INVITATION)[0]
    fail(failed, 30008)
    action(client, f"/clinic/follow-up/messages/{failed.id}/dismiss", back="attention")
    db.session.expire_all()
    assert failed.resolution == "dismissed"
    assert "P-300" not in client.get("/clinic/follow-up/attention").text
    audited = db.session.scalars(select(AuditEvent.action)).all()
    assert "message.retry" in audited and "message.dismiss" in audited


def test_send_now_and_cancel_a_scheduled_message(client, coordinator, patient_now):
    patient = patient_now()
    reminder = messages_of(patient, MessageKind.REMINDER)[0]
    # While the invitation has not gone, its reminder is not offered "Send now", and the
    # action refuses it.
    page = client.get(f"/clinic/follow-up/patients/{patient.id}").text
    assert f"/messages/{reminder.id}/send-now" not in page
    response = action(client, f"/clinic/follow-up/messages/{reminder.id}/send-now")
    page = client.get(response.headers["Location"]).text
    assert "cannot go before the invitation it recalls" in page
    invitation = messages_of(patient, MessageKind.INVITATION)[0]
    invitation.status, invitation.attempts = MessageStatus.QUEUED, 1
    db.session.commit()
    page = client.get(f"/clinic/follow-up/patients/{patient.id}").text
    assert f"/messages/{reminder.id}/send-now" in page
    action(client, f"/clinic/follow-up/messages/{reminder.id}/send-now")
    db.session.expire_all()
    assert reminder.due_at <= utcnow()
    action(client, f"/clinic/follow-up/messages/{reminder.id}/cancel")
    db.session.expire_all()
    assert (reminder.status, reminder.reason) == (MessageStatus.CANCELLED, "cancelled_by_staff")
    response = action(client, f"/clinic/follow-up/messages/{reminder.id}/cancel")
    page = client.get(response.headers["Location"]).text
    assert "Only a message that has not been sent yet can be cancelled" in page


def test_cancelling_an_invitation_cancels_its_reminders_and_can_be_undone(
    client, coordinator, patient_now
):
    patient = patient_now()
    invitation = messages_of(patient, MessageKind.INVITATION)[0]
    reminders = [
        message
        for message in messages_of(patient, MessageKind.REMINDER)
        if message.invitation_id == invitation.invitation_id
    ]
    assert reminders
    page = client.get(f"/clinic/follow-up/patients/{patient.id}").text
    assert "Cancel the invitation and its reminders" in page  # asked to confirm
    action(client, f"/clinic/follow-up/messages/{invitation.id}/cancel")
    db.session.expire_all()
    assert invitation.status == MessageStatus.CANCELLED
    assert {(m.status, m.reason) for m in reminders} == {
        (MessageStatus.CANCELLED, "cancelled_with_invitation")
    }
    page = client.get(f"/clinic/follow-up/patients/{patient.id}").text
    assert f"/messages/{invitation.id}/undo-cancel" in page
    action(client, f"/clinic/follow-up/messages/{invitation.id}/undo-cancel")
    db.session.expire_all()
    assert {m.status for m in [invitation, *reminders]} == {MessageStatus.PENDING}
    assert invitation.finished_at is None and invitation.events[-1].reason == "undone"
    audited = db.session.scalars(select(AuditEvent.action)).all()
    assert "message.cancel" in audited and "message.undo_cancel" in audited
    # Once something of the invitation has gone, there is no undo.
    action(client, f"/clinic/follow-up/messages/{invitation.id}/cancel")
    db.session.expire_all()
    reminders[0].status, reminders[0].attempts = MessageStatus.QUEUED, 1
    db.session.commit()
    response = action(client, f"/clinic/follow-up/messages/{invitation.id}/undo-cancel")
    page = client.get(response.headers["Location"]).text
    assert "can no longer be undone" in page


def test_pause_resume_and_withdraw(client, coordinator, patient_now):
    patient = patient_now()
    base = f"/clinic/follow-up/patients/{patient.id}"
    action(client, f"{base}/pause")
    db.session.expire_all()
    assert patient.status == PatientStatus.PAUSED
    assert "Messages are paused" in client.get(base).text
    action(client, f"{base}/resume")
    db.session.expire_all()
    assert patient.status == PatientStatus.ACTIVE
    confirm = client.get(f"{base}/withdraw")
    assert "cannot be undone" in confirm.text
    client.post(f"{base}/withdraw", data={"csrf_token": csrf_from(confirm.text)})
    db.session.expire_all()
    assert patient.status == PatientStatus.WITHDRAWN
    assert {m.status for m in messages_of(patient)} == {MessageStatus.CANCELLED}
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert {"patient.pause", "patient.resume", "patient.withdraw"} <= set(actions)


def test_actions_without_a_csrf_token_are_refused(client, coordinator, patient_now):
    patient = patient_now()
    reminder = messages_of(patient, MessageKind.REMINDER)[0]
    response = client.post(f"/clinic/follow-up/messages/{reminder.id}/cancel")
    assert response.status_code == 400
    db.session.refresh(reminder)
    assert reminder.status == MessageStatus.PENDING


def test_the_texts_page_shows_encoding_and_segments_per_language(client, coordinator, site):
    page = client.get("/clinic/follow-up/texts").text
    # The site's own name says what it treats: until it has an SMS name, texts use the
    # neutral one, and the page says so.
    assert "no name for text messages yet" in page
    assert "Your clinic: how are you before your treatment?" in page
    assert "Almería Colorectal Unit:" not in page
    db.session.add(SmsSender(site_id=site.id, name="Almería Centro"))
    db.session.commit()
    page = client.get("/clinic/follow-up/texts").text
    assert "because of: í" in page  # the name's í makes every text UCS-2
    db.session.get(SmsSender, site.id).name = "Hospital Central"
    db.session.commit()
    page = client.get("/clinic/follow-up/texts").text
    table = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [
            re.sub(r"<[^>]+>", " ", cell).split()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        if len(cells) == 6 and cells[5] and cells[5][0].isdigit():
            kind, language, encoding = " ".join(cells[0]), cells[1][0], cells[4][0]
            chars = " ".join(cells[4][3:])  # after "because of:"
            table[(kind, language)] = (encoding, chars, int(cells[5][0]))
    for kind in ("Invitation,", "Reminder,"):
        for time in ("before treatment", "since treatment"):
            assert table[(f"{kind} {time}", "English")] == ("GSM-7", "", 1)
            assert table[(f"{kind} {time}", "Español")] == ("GSM-7", "", 1)
            assert table[(f"{kind} {time}", "Türkçe")][0] == "UCS-2"
            assert table[(f"{kind} {time}", "Türkçe")][2] >= 2
            # Every language patients can answer in is measured; Arabic is always UCS-2.
            assert table[(f"{kind} {time}", "العربية")][0] == "UCS-2"
            assert table[(f"{kind} {time}", "Italiano")][0] == "GSM-7"
    assert len(table) == 7 * 6  # seven texts in en, ar, es, it, pt_BR and tr


def test_an_admin_sets_a_neutral_sender_name_and_a_revealing_one_is_refused(client, admin, site):
    submit(client, "/clinic/follow-up/texts", {"site_id": site.id, "name": "Unidad de Fístula"})
    assert db.session.get(SmsSender, site.id) is None
    # The á makes every text UCS-2: the English and Spanish texts would cost 3 segments.
    submit(
        client, "/clinic/follow-up/texts", {"site_id": site.id, "name": "Hospital Torrecárdenas"}
    )
    assert db.session.get(SmsSender, site.id) is None
    page = client.get("/clinic/follow-up/texts").text
    assert "would cost more than 2 segments" in page and "English" in page
    page = submit(
        client, "/clinic/follow-up/texts", {"site_id": site.id, "name": "Hospital Torrecardenas"}
    )
    assert page.status_code == 302
    assert db.session.get(SmsSender, site.id).name == "Hospital Torrecardenas"
    page = client.get("/clinic/follow-up/texts").text
    assert "Hospital Torrecardenas: cuéntenos" in page
    assert "Most segments per text with this name:" in page


def test_coordinators_read_schedules_and_only_admins_define_them(client, staff, site, make_user):
    coordinator = make_user("coordinator", [site])
    staff.login(coordinator.email)
    assert "Standard follow-up" in client.get("/clinic/follow-up/schedules").text
    assert client.get("/clinic/follow-up/schedules/new").status_code == 403
    staff.logout()
    staff.login(make_user("admin", [site]).email)
    response = submit(
        client,
        "/clinic/follow-up/schedules/new",
        {
            "name": "Seton follow-up",
            "timepoints-0-label": "baseline",
            "timepoints-0-day": "-7",
            "timepoints-0-window_days": "7",
            "timepoints-0-reminder_days": "3",
            "timepoints-0-instruments": ["qolaf-q", "ccis"],
            "timepoints-1-label": "6 weeks",
            "timepoints-1-day": "42",
            "timepoints-1-window_days": "14",
            "timepoints-1-reminder_days": "3, 7",
            "timepoints-1-instruments": ["ccis"],
        },
    )
    assert response.status_code == 302
    schedule = db.session.scalar(select(Schedule).where(Schedule.name == "Seton follow-up"))
    assert [(t.label, t.reminder_days, t.instrument_ids) for t in schedule.timepoints] == [
        ("baseline", [3], ["qolaf-q", "ccis"]),
        ("6 weeks", [3, 7], ["ccis"]),
    ]
    bad = submit(
        client,
        "/clinic/follow-up/schedules/new",
        {
            "name": "Broken",
            "timepoints-0-label": "x",
            "timepoints-0-day": "0",
            "timepoints-0-window_days": "7",
            "timepoints-0-reminder_days": "9",
            "timepoints-0-instruments": ["ccis"],
        },
    )
    assert "reminders must fall inside the window" in bad.text
    action(
        client,
        f"/clinic/follow-up/schedules/{schedule.id}/retire",
        page_url="/clinic/follow-up/schedules",
    )
    db.session.refresh(schedule)
    assert not schedule.active


def test_the_development_outbox_lists_what_would_have_been_sent(
    client, coordinator, app, patient_now, tmp_path
):
    from survey.outreach.backends import backend_from_config
    from survey.outreach.dispatch import dispatch_due
    from survey.outreach.dispatch_settings import DispatchSettings

    app.config["SMS_DEV_OUTBOX"] = str(tmp_path / "outbox.jsonl")
    patient = patient_now()
    backend = backend_from_config(app.config, app.instance_path)
    at = next_allowed_time(utcnow(), patient.timezone, RULES)  # whatever the clock says now
    dispatch_due(db.session, backend, DispatchSettings.from_config(app.config), now=at)
    page = client.get("/dev/outbox")
    assert page.headers["Cache-Control"] == "no-store"
    assert 'href="https://survey.example.org/s/' in page.text
    assert "+34 612 34 56 78" in page.text


def test_the_texts_page_explains_the_whatsapp_template_without_showing_settings(
    app, client, coordinator
):
    page = client.get("/clinic/follow-up/texts").text
    section = page[page.index('id="whatsapp-template"') :]
    assert "not set: WhatsApp is off" in section
    assert "{{1}}" in section and "{{2}}" in section
    # The text to submit: the SMS wording with the variables in place of the name and link.
    assert "{{1}}: how have you been since your treatment? {{2}}" in section
    content_sid = "HX" + "a" * 32
    app.config.update(TWILIO_WHATSAPP_FROM="+34600000000", TWILIO_WHATSAPP_CONTENT_SID=content_sid)
    try:
        section = client.get("/clinic/follow-up/texts").text.split('id="whatsapp-template"')[1]
    finally:
        app.config.update(TWILIO_WHATSAPP_FROM=None, TWILIO_WHATSAPP_CONTENT_SID=None)
    assert "not set" not in section.split("</dl>")[0]
    assert content_sid not in section and "+34600000000" not in section


def test_with_twilio_lookup_a_us_landline_is_refused_on_the_form_after_one_lookup(
    app, client, coordinator, site, fake_twilio
):
    """The form's own check and the enrolment share one Lookup per request."""
    app.config.update(
        TWILIO_LOOKUP=1,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_LOOKUP_URL=fake_twilio.url,
    )
    fake_twilio.line_types["+12125550123"] = "landline"
    schedule_id = ensure_default_schedule(db.session).id
    db.session.commit()
    form = enrol_form(phone="+1 212 555 0123", schedule_id=schedule_id, site_id=site.id)
    response = submit(client, "/clinic/follow-up/enrol", form)
    assert response.status_code == 200
    assert "That is a landline, not a mobile number" in response.text
    assert fake_twilio.lookups == ["+12125550123"]
    form = enrol_form(phone="+1 646 555 0142", schedule_id=schedule_id, site_id=site.id)
    response = submit(client, "/clinic/follow-up/enrol", form)
    assert response.status_code == 302
    assert fake_twilio.lookups == ["+12125550123", "+16465550142"]
    patient = db.session.scalar(select(Patient).where(Patient.reference == "ES-42"))
    assert patient.phone == "+16465550142"


def test_the_forms_read_a_national_number_in_the_sites_country(client, coordinator, site):
    site.country = "ES"
    db.session.commit()
    response = submit(
        client, "/clinic/follow-up/enrol", enrol_form(phone="612 345 678", site_id=site.id)
    )
    assert response.status_code == 302, response.text
    patient = db.session.scalar(select(Patient).where(Patient.reference == "ES-42"))
    assert patient.phone == "+34612345678"
    edit = f"/clinic/follow-up/patients/{patient.id}/edit"
    page = submit(client, edit, enrol_form(phone="622 111 222", schedule_id="0"))
    assert page.status_code == 302, page.text
    db.session.refresh(patient)
    assert patient.phone == "+34622111222"
    # A Spanish landline written the national way is still a landline.
    refused = submit(client, edit, enrol_form(phone="950 123 456", schedule_id="0"))
    assert refused.status_code == 200
    assert "not a mobile number" in refused.text
