"""The closed loop in headless Chromium: a patient asks to be contacted on their phone; a
clinician on a 390 px phone finds them at the top of the worklist, takes the item, records the
call and closes it. Every page checked with axe-core and for sideways scrolling."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from survey.extensions import db
from survey.models import ContactRequest, TriageItem, TriageStatus
from tests.browser.test_clinician import sign_in
from tests.browser.test_patient_journey import (
    assert_accessible,
    assert_fits_a_small_phone,
    choose,
    press,
)
from tests.fixtures.browser import WAIT_MS, wait_for_rows
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface
from tests.fixtures.triage import RELAPSE, submit_history

pytestmark = pytest.mark.browser
PHONE_390 = {"width": 390, "height": 844}


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"], f"{page.url} is {width} px wide"


@pytest.fixture
def clinician_phone(browser, live_server):
    context = browser.new_context(
        viewport=PHONE_390, locale="en-GB", base_url=live_server, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def test_a_patient_asks_to_be_contacted_and_a_clinician_closes_the_loop(
    new_phone, clinician_phone, enrolled, invite, site, make_patient, make_user
):
    # Another patient relapsed earlier: yellow, below the patient who asks.
    submit_history(make_patient(site, reference="RELAPSED", language="en"), RELAPSE)
    link = invite(enrolled)
    phone = new_phone()
    phone.goto(link.path)
    phone.get_by_role("link", name=interface("es", "Start")).click()
    choose(phone, QOLAF_51)
    press(phone, "es", "Next")
    choose(phone, CCIS_10)
    press(phone, "es", "Check my answers")
    press(phone, "es", "Send my answers")
    expect(phone.get_by_role("heading", level=2)).to_have_text(
        interface("es", "Would you like your care team to contact you?")
    )
    assert_accessible(phone)
    assert_fits_a_small_phone(phone)
    phone.get_by_label(interface("es", "What would you like to talk about? (optional)")).fill(
        "Me sigue supurando."
    )
    press(phone, "es", "Please contact me")
    expect(phone).to_have_url(re.compile(r"/survey/done$"))
    expect(phone.get_by_text(interface("es", "You asked to be contacted"))).to_be_visible()
    assert_accessible(phone)
    assert wait_for_rows(ContactRequest, 1) == 1

    clinician = make_user("clinician", [site])
    sign_in(clinician_phone, clinician.email)
    clinician_phone.get_by_role("link", name="Worklist").click()
    rows = clinician_phone.locator("table.worklist tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("P-042")
    expect(rows.first).to_contain_text("Red")
    expect(rows.nth(1)).to_contain_text("RELAPSED")
    assert_accessible(clinician_phone)
    no_sideways_scroll(clinician_phone)

    rows.first.get_by_role("link", name="P-042").click()
    expect(clinician_phone.get_by_text("Me sigue supurando.")).to_be_visible()
    assert_accessible(clinician_phone)
    no_sideways_scroll(clinician_phone)
    clinician_phone.get_by_role("button", name="Take this item").click()
    expect(clinician_phone.get_by_text("The item is yours now.")).to_be_visible()
    clinician_phone.get_by_label("Called the patient").check()
    clinician_phone.get_by_label("Note (optional)").fill("Called; seen tomorrow.")
    clinician_phone.get_by_role("button", name="Record").click()
    expect(clinician_phone.get_by_text("Recorded: Called the patient.")).to_be_visible()
    assert_accessible(clinician_phone)
    clinician_phone.get_by_role("button", name="Close the item").click()
    expect(clinician_phone).to_have_url(re.compile(r"/clinic/worklist$"))
    expect(clinician_phone.locator("table.worklist tbody tr")).to_have_count(1)

    db.session.expire_all()
    request = db.session.scalar(select(ContactRequest))
    item = db.session.scalar(
        select(TriageItem).where(TriageItem.invitation_id == request.invitation_id)
    )
    assert (item.status, item.outcome, item.outcome_note) == (
        TriageStatus.CLOSED,
        "called",
        "Called; seen tomorrow.",
    )


def test_the_triage_rules_page_fits_a_phone_and_is_accessible(clinician_phone, site, make_user):
    admin = make_user("admin", [site])
    sign_in(clinician_phone, admin.email)
    clinician_phone.goto("/clinic/admin/triage")
    expect(clinician_phone.get_by_role("heading", level=1)).to_have_text("Triage rules")
    assert_accessible(clinician_phone)
    no_sideways_scroll(clinician_phone)
