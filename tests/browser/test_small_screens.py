"""A clinician on a phone (390 px wide): the patient page and the printable summary fit the
screen (wide tables scroll inside their own box, charts scale), pass axe-core, and the CCIS
chart's last value stands clear of its cut-off label."""

import re

import pytest

from tests.browser.test_clinician import assert_accessible, sign_in
from tests.conftest import PASSWORD
from tests.fixtures import clinic
from tests.fixtures.browser import WAIT_MS

pytestmark = pytest.mark.browser

clinician = clinic.clinician
published_case = clinic.published_case
worsened_continence = clinic.worsened_continence
relapse = clinic.relapse
PHONE_390 = {"width": 390, "height": 844}

# The boxes the browser laid out for the last value of a chart and for its cut-off labels.
BOXES = """svg => {
  const box = el => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  const values = [...svg.querySelectorAll('text.value')];
  return {
    value: box(values[values.length - 1]),
    cutoffs: [...svg.querySelectorAll('text.cutoff-label')].map(box),
  };
}"""


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        viewport=PHONE_390, locale="en-GB", base_url=live_server, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def test_the_patient_page_and_summary_fit_390_pixels(
    phone, clinician, published_case, worsened_continence, relapse
):
    sign_in(phone, clinician.email)
    checked = []
    for patient in (published_case, worsened_continence, relapse):
        for path in (f"/clinic/patients/{patient.id}", f"/clinic/patients/{patient.id}/summary"):
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide"
            # The charts scale to the screen instead of being cut.
            for chart in phone.locator("svg.chart").all():
                assert chart.bounding_box()["width"] <= 390
            assert_accessible(phone)
            checked.append(path)
    assert len(checked) == 6
    # The list too: its table scrolls inside its own box.
    phone.goto("/clinic/?worsened=1")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(phone)


def test_the_ccis_value_never_runs_into_the_cutoff_label(phone, clinician, worsened_continence):
    """CCIS 3 -> 4 -> 8 ends just under the >= 9 line at the right edge: "8" and ">= 9" must
    not touch (they used to read "8>= 9")."""
    sign_in(phone, clinician.email)
    phone.goto(f"/clinic/patients/{worsened_continence.id}")
    boxes = phone.locator("svg#chart-ccis").evaluate(BOXES)
    assert phone.locator("svg#chart-ccis text.value").last.text_content() == "8"
    assert len(boxes["cutoffs"]) == 1
    value, gap = boxes["value"], 3
    for cutoff in boxes["cutoffs"]:
        apart = (
            value[2] + gap <= cutoff[0]
            or cutoff[2] + gap <= value[0]
            or value[3] + gap <= cutoff[1]
            or cutoff[3] + gap <= value[1]
        )
        assert apart, f"value {value} touches cut-off label {cutoff}"
        # Not side by side on one line either: the value sits clear above or below the label.
        assert value[3] <= cutoff[1] or value[1] >= cutoff[3]
    assert re.fullmatch(
        r"\u2265 9", phone.locator("svg#chart-ccis text.cutoff-label").text_content()
    )


def test_the_export_page_fits_360_pixels(browser, live_server, clinician):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="tr-TR", base_url=live_server,
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("#email").fill(clinician.email)
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/clinic/$"))
        for path in ("/clinic/exports", "/clinic/exports/dictionary"):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width} px wide"
            assert_accessible(page)
        assert page.locator("html").get_attribute("lang") == "tr"
    finally:
        context.close()
