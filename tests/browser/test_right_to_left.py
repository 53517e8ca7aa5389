"""Arabic, right to left, on a 360 px phone in headless Chromium: the patient's questionnaire,
review and done pages are mirrored, fit the screen and pass axe-core; a clinician reading in Arabic
sees the patient's Arabic answers, tables and charts readable on the same screen."""

import re

import pytest
from playwright.sync_api import expect

from survey.extensions import db
from survey.instruments import get_instrument
from tests.browser.test_patient_journey import assert_accessible, at, choose, heading, press
from tests.conftest import PASSWORD
from tests.fixtures import clinic as clinic
from tests.fixtures.patients import interface

pytestmark = pytest.mark.browser

clinician = clinic.clinician
PHONE_360 = {"width": 360, "height": 780}
QOLAF = {f"q{n}": 4 if n <= 9 else 3 for n in range(1, 15)}  # 51
CCIS = {"solid": 2, "liquid": 2, "gas": 2, "pad": 2, "lifestyle": 2}  # 10


def sideways_scroll(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def assert_right_to_left(page) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    assert sideways_scroll(page) <= 0, f"{page.url} scrolls sideways at 360 px"
    # Mirrored: the main heading's words start at the right-hand edge, not the left.
    left, right = heading(page).evaluate(
        """h => { const r = document.createRange(); r.selectNodeContents(h);
                 const b = r.getBoundingClientRect(); return [b.left, b.right]; }"""
    )
    assert PHONE_360["width"] - right <= left, "the heading's text sits against the right"


@pytest.fixture
def arabic_phone(new_phone):
    page = new_phone(locale="ar")
    page.set_viewport_size(PHONE_360)
    return page


def test_an_arabic_patient_answers_right_to_left_on_a_360_px_phone(
    arabic_phone, enrolled, invite, tmp_path
):
    enrolled.language = "ar"
    db.session.commit()
    page = arabic_phone

    page.goto(invite(enrolled).path)
    assert_right_to_left(page)
    assert_accessible(page)
    page.get_by_role("link", name=interface("ar", "Start")).click()
    expect(page).to_have_url(at("/survey/1"))

    qolaf = get_instrument("qolaf-q")
    expect(heading(page)).to_have_text(qolaf.title("ar"))
    assert_right_to_left(page)
    assert_accessible(page)
    # An answer's radio button sits at the right of its label, as Arabic reads.
    radio = page.locator("#q1-4").bounding_box()
    label = page.locator("#q1-4").locator("xpath=..").bounding_box()
    assert radio["x"] > label["x"] + label["width"] / 2, (
        "the radio button comes first, on the right"
    )
    page.screenshot(path=str(tmp_path / "ar-questionnaire-360.png"), full_page=True)
    choose(page, QOLAF)
    press(page, "ar", "Next")

    expect(heading(page)).to_have_text(get_instrument("ccis").title("ar"))
    assert_right_to_left(page)
    choose(page, CCIS)
    press(page, "ar", "Check my answers")

    # The review of every answer is mirrored and accessible too; Send is on it.
    expect(page).to_have_url(at("/survey/review"))
    expect(heading(page)).to_have_text(interface("ar", "Check your answers"))
    expect(page.locator(".review-list li")).to_have_count(len(QOLAF) + len(CCIS))
    assert_right_to_left(page)
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "ar-review-360.png"), full_page=True)
    press(page, "ar", "Send my answers")

    expect(page).to_have_url(at("/survey/done"))
    expect(heading(page)).to_have_text(interface("ar", "Thank you"))
    assert_right_to_left(page)
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "ar-done-360.png"), full_page=True)


def test_a_clinician_reading_arabic_sees_arabic_answers_on_a_360_px_phone(
    arabic_phone, clinician, site, make_patient
):
    patient = make_patient(site, reference="CASE-AR", language="ar", phone="+971501234567")
    clinic.add_history(patient, clinic.PUBLISHED_CASE)  # answered in the patient's Arabic
    db.session.commit()
    page = arabic_phone

    page.goto("/login")
    page.get_by_label(interface("ar", "Email")).fill(clinician.email)
    page.get_by_label(interface("ar", "Password")).fill(PASSWORD)
    page.get_by_role("button", name=interface("ar", "Sign in")).click()
    page.wait_for_url(re.compile(r"/clinic/$"))
    assert sideways_scroll(page) <= 0
    assert_accessible(page)

    for path in (f"/clinic/patients/{patient.id}", f"/clinic/patients/{patient.id}/summary"):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        assert sideways_scroll(page) <= 0, f"{path} scrolls sideways at 360 px"
        for chart in page.locator("svg.chart").all():
            assert chart.bounding_box()["width"] <= PHONE_360["width"]
            # Charts keep time running left to right on a right-to-left page.
            assert chart.get_attribute("direction") == "ltr"
        assert_accessible(page)
    # The Arabic band names and staff labels are the Arabic catalog's and wording's.
    page.goto(f"/clinic/patients/{patient.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("CASE-AR")
    content = page.content()
    assert get_instrument("qolaf-q").bands[3].label("ar") in content  # "high impact"
    solid = get_instrument("ccis").item("solid").text("ar")
    assert f'lang="ar" dir="rtl">{solid}</span>' in content

    page.goto("/clinic/admin/languages")
    assert sideways_scroll(page) <= 0
    assert_accessible(page)
