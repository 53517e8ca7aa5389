# ruff: noqa: F811  (fixtures imported from tests.fixtures.outreach are parameters below)
"""A coordinator's whole job in headless Chromium: enrol a patient, read the schedule, watch
delivery, fix a number Twilio refused, send again. The dispatcher runs in the test process with
the real Twilio SDK against a local fake, on the same database the live server reads."""

import re
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from survey.extensions import db
from survey.models import Message, MessageStatus, Patient, utcnow
from survey.outreach.dispatch import dispatch_due
from survey.outreach.policy import next_allowed_time
from tests.conftest import PASSWORD
from tests.fixtures.browser import WAIT_MS
from tests.fixtures.outreach import (  # noqa: F401  (shared fixtures)
    settings,
    sign,
    twilio,
    twilio_app,
)

pytestmark = pytest.mark.browser

AXE = Axe()
DESK = {"width": 1280, "height": 900}


@pytest.fixture
def desk(browser, live_server):
    context = browser.new_context(viewport=DESK, locale="en-GB", base_url=live_server)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def assert_accessible(page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def dispatch(twilio, settings):
    """One dispatcher pass, at the next moment messages may go in Madrid."""
    at = next_allowed_time(utcnow(), "Europe/Madrid", settings.rules)
    report = dispatch_due(db.session, twilio, settings, now=at)
    db.session.expire_all()
    return report


def test_a_coordinator_enrols_watches_delivery_fixes_a_number_and_resends(
    desk,
    site,
    make_user,
    twilio,
    settings,
    fake_twilio,
    twilio_app,
    sign,
):
    coordinator = make_user("coordinator", [site])
    desk.goto("/login")
    desk.get_by_label("Email").fill(coordinator.email)
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Sign in").click()

    # Enrol, first with a landline by mistake.
    desk.get_by_role("link", name="Follow-up").click()
    desk.wait_for_url(re.compile(r"/clinic/follow-up/$"))
    assert_accessible(desk)
    desk.get_by_role("link", name="Enrol a patient").click()
    desk.get_by_label("Reference").fill("ES-2026-017")
    desk.get_by_label("Mobile number").fill("+34 912 345 678")
    desk.get_by_label("Language for messages and questionnaires").select_option("es")
    desk.get_by_label("Time zone").fill("Europe/Madrid")
    desk.get_by_label("Index date").fill((date.today() + timedelta(days=7)).isoformat())
    assert desk.get_by_label("Follow-up schedule").input_value() != "0"
    assert_accessible(desk)
    desk.get_by_role("button", name="Enrol").click()
    expect(desk.get_by_text("not a mobile number")).to_be_visible()
    desk.get_by_label("Mobile number").fill("+34 612 345 678")
    desk.get_by_role("button", name="Enrol").click()
    desk.wait_for_url(re.compile(r"/clinic/follow-up/patients/\d+$"))
    expect(desk.get_by_text("ES-2026-017 is enrolled.")).to_be_visible()

    # The schedule: every timepoint, the baseline invitation scheduled.
    for label in ("baseline", "3 weeks", "3 months", "6 months", "12 months"):
        expect(desk.get_by_role("heading", name=re.compile(label))).to_be_visible()
    expect(desk.locator("tr", has_text="Invitation").first.get_by_text("Scheduled")).to_be_visible()
    assert_accessible(desk)

    # Twilio refuses the number: the coordinator sees why, in plain words.
    fake_twilio.answer_next(("error", 21211))
    assert dispatch(twilio, settings).failed == 1
    desk.get_by_role("link", name="Needs attention").first.click()
    row = desk.locator("tr", has_text="ES-2026-017")
    expect(row.get_by_text("The number is not a valid phone number")).to_be_visible()
    assert_accessible(desk)

    # Fix the number; the failed message goes again.
    row.get_by_role("link", name="Edit number").click()
    desk.get_by_label("Mobile number").fill("+34 622 334 455")
    expect(desk.get_by_label("Send the messages that failed again")).to_be_checked()
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("1 failed message will be sent again.")).to_be_visible()
    assert dispatch(twilio, settings).sent == 1
    assert fake_twilio.received[-1].to == "+34622334455"
    assert "cuéntenos su estado" in fake_twilio.received[-1].body

    # Watch delivery: accepted, then delivered when Twilio calls back.
    desk.reload()
    baseline = desk.locator("section", has=desk.get_by_role("heading", name=re.compile("baseline")))
    expect(baseline.get_by_text("Accepted by the SMS service", exact=True)).to_be_visible()
    patient = db.session.scalar(db.select(Patient).where(Patient.reference == "ES-2026-017"))
    sent = db.session.scalar(
        db.select(Message).where(
            Message.patient_id == patient.id, Message.status == MessageStatus.QUEUED
        )
    )
    path = f"/webhooks/twilio/status?message={sent.id}"
    form = {"MessageSid": sent.provider_sid, "MessageStatus": "delivered"}
    assert (
        twilio_app.test_client().post(path, data=form, headers=sign(path, form)).status_code == 204
    )
    desk.reload()
    expect(baseline.get_by_text("Delivered", exact=True)).to_be_visible()

    # The patient lost the text: send the link again. One message a day: it waits.
    baseline.get_by_role("button", name="Send the link again").click()
    expect(desk.get_by_text("The link will be sent again")).to_be_visible()
    assert dispatch(twilio, settings).waiting == 1
    desk.reload()
    expect(baseline.get_by_text("the patient already had a message today")).to_be_visible()

    desk.get_by_role("link", name="Needs attention").first.click()
    expect(desk.get_by_text("No failed or unconfirmed messages.")).to_be_visible()
