"""A clinician at a desk, end to end in headless Chromium: find the worsened patient, read the
charts and their tables, print the summary; every staff page checked with axe-core."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from survey.extensions import db
from tests.conftest import PASSWORD
from tests.fixtures import clinic
from tests.fixtures.browser import WAIT_MS

pytestmark = pytest.mark.browser

AXE = Axe()
# The clinic tests' patients and clinician, shared as fixtures of this module.
clinician = clinic.clinician
published_case = clinic.published_case
worsened_continence = clinic.worsened_continence
missed_timepoint = clinic.missed_timepoint
DESK = {"width": 1280, "height": 900}


def assert_accessible(page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


@pytest.fixture
def desk(browser, live_server):
    """A desktop browser, as clinicians use in clinic."""
    context = browser.new_context(viewport=DESK, locale="en-GB", base_url=live_server)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/clinic/$"))


def chart_values(page, chart_id: str) -> list[str]:
    return page.locator(f"svg#{chart_id} text.value").all_text_contents()


def column(page, table_id: str, index: int) -> list[str]:
    return [
        text.strip()
        for text in page.locator(f"#{table_id} tbody tr").evaluate_all(
            f"rows => rows.map(r => r.children[{index}].innerText)"
        )
    ]


def test_a_clinician_finds_the_worsened_patient_and_reads_the_charts(
    desk, clinician, published_case, worsened_continence, missed_timepoint
):
    sign_in(desk, clinician.email)
    assert desk.locator("table.patients tbody tr").count() == 3
    assert_accessible(desk)

    desk.get_by_label("Worsened").check()
    desk.get_by_role("button", name="Show patients").click()
    desk.wait_for_url(re.compile(r"worsened=1"))
    rows = desk.locator("table.patients tbody tr")
    assert rows.count() == 1
    assert "+5 (worse)" in rows.first.inner_text()
    assert_accessible(desk)

    desk.get_by_role("link", name="CASE-WORSE").click()
    desk.wait_for_url(re.compile(rf"/clinic/patients/{worsened_continence.id}$"))
    assert desk.get_by_role("heading", name="Patient CASE-WORSE", level=1).is_visible()

    # The charts draw the numbers the tables beside them list.
    assert chart_values(desk, "chart-qolaf-q") == ["45", "33", "30"]
    assert column(desk, "table-qolaf-q", 3) == [
        "45 provisional",
        "33 provisional",
        "30 provisional",
    ]
    assert column(desk, "table-qolaf-q", 4) == ["High impact", "Moderate impact", "Moderate impact"]
    assert chart_values(desk, "chart-ccis") == ["3", "4", "8"]
    assert column(desk, "table-ccis", 3) == ["3", "4", "8"]
    # Judged by the MIC for improvement, extrapolated to worsening: marked *, said in words.
    assert column(desk, "table-ccis", 5) == [
        "\u2014",
        "+1 (no meaningful change)*\n(threshold extrapolated)",
        "+5 (worse)*\n(threshold extrapolated)",
    ]
    # Screen readers get the chart's name and its numbers in words.
    ccis_chart = desk.get_by_role("img", name="CCIS total over time")
    assert ccis_chart.count() == 1
    description = desk.locator("svg#chart-ccis desc").text_content()
    assert "baseline: 3; 3 months: 4; 6 months: 8" in description  # the CCIS is not provisional

    flags = desk.locator("section.new-flags")
    assert "CCIS worsened by 4 points against the previous answers (4 to 8)" in flags.inner_text()
    assert "Also against: baseline." in flags.inner_text()
    assert "Quality of life better but continence worse" in flags.inner_text()
    assert_accessible(desk)

    desk.get_by_role("link", name="Printable one-page summary").click()
    desk.wait_for_url(re.compile(r"/summary$"))
    assert_accessible(desk)
    desk.emulate_media(media="print")
    assert not desk.locator(".site-header").is_visible()
    pdf = desk.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one page for the case report


def test_every_other_staff_page_is_accessible(
    desk, site, make_user, published_case, missed_timepoint
):
    admin = make_user("admin", [site])
    sign_in(desk, admin.email)
    for path in (
        f"/clinic/patients/{missed_timepoint.id}",
        "/clinic/exports",
        "/clinic/exports/dictionary",
        "/clinic/admin/",
        "/clinic/admin/audit",
        "/clinic/?band=nonsense",  # with the "not understood" message showing
    ):
        desk.goto(path)
        assert_accessible(desk)
    desk.goto("/clinic/exports")
    desk.get_by_label("From").fill("2026-05-01")
    desk.get_by_label("To").fill("2026-04-01")
    desk.get_by_role("button", name="CSV, wide: one row per timepoint").click()
    assert desk.get_by_text("The end date is before the start date.").is_visible()
    assert_accessible(desk)
    with desk.expect_download() as download:
        desk.get_by_label("To").fill("")
        desk.get_by_role("button", name="CSV, wide: one row per timepoint").click()
    assert download.value.suggested_filename.startswith("survey-wide-")


def test_the_export_page_offers_each_format_by_name(desk, site, make_user, published_case):
    sign_in(desk, make_user("clinician", [site]).email)
    desk.goto("/clinic/exports")
    assert desk.get_by_label("Analysis: R, Python, Stata, SPSS").is_checked()
    desk.get_by_label("A spreadsheet: Excel, LibreOffice").check()
    assert_accessible(desk)
    for button, name in (
        ("CSV, long: one row per item answer", r"survey-long-excel-\d{8}-\d{6}\.csv"),
        ("SPSS file (.sav)", r"survey-sav-\d{8}-\d{6}\.sav"),
        ("Stata file (.dta)", r"survey-dta-\d{8}-\d{6}\.dta"),
        ("R: long CSV with dictionary (.zip)", r"survey-r-\d{8}-\d{6}\.zip"),
        ("REDCap data dictionary (CSV)", r"survey-redcap-dictionary-\d{8}-\d{6}\.csv"),
        ("REDCap data (CSV)", r"survey-redcap-\d{8}-\d{6}\.csv"),
    ):
        with desk.expect_download() as download:
            desk.get_by_role("button", name=button, exact=True).click()
        assert re.fullmatch(name, download.value.suggested_filename), button
    assert_accessible(desk)


def test_the_patient_list_works_in_spanish_at_phone_width(
    browser, live_server, clinician, published_case
):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="es-ES", base_url=live_server
    )
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("#email").fill(clinician.email)
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/clinic/$"))
        assert page.locator("html").get_attribute("lang") == "es"
        assert "Impacto limitado" in page.locator("table.patients").inner_text()
        assert_accessible(page)
        page.goto(f"/clinic/patients/{published_case.id}")
        assert_accessible(page)
    finally:
        context.close()
    db.session.rollback()
