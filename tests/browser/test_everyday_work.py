"""Issue #16 in headless Chromium, at 360 px and 1280 px, in English, Spanish and Turkish,
every page checked with axe-core: a clinic tablet opened with a coordinator's code (no staff
session on it), answers typed in from paper, and a theatre list enrolled from a CSV."""

import re
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Patient, Response
from tests.conftest import PASSWORD
from tests.fixtures.browser import WAIT_MS
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface

pytestmark = pytest.mark.browser

AXE = Axe()
WIDTHS = {"phone": {"width": 360, "height": 740}, "desk": {"width": 1280, "height": 900}}
LANGUAGES = ("en", "es", "tr")


def assert_accessible(page) -> None:
    """axe-core finds nothing and nothing scrolls sideways, at a desk's width and at a
    phone's. Each flow runs once, on a phone; a page behaves the same at any width, so only
    what the width changes, layout and what axe reads of it, is checked at both."""
    for width in ("desk", "phone"):  # ends at the phone's width, where the flow goes on
        page.set_viewport_size(WIDTHS[width])
        results = AXE.run(page)
        assert results.violations_count == 0, f"{page.url} ({width})\n{results.generate_report()}"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways ({width})"


@pytest.fixture
def browse(browser, live_server):
    contexts = []

    def make(language: str):
        context = browser.new_context(
            viewport=WIDTHS["phone"], locale=language, base_url=live_server
        )
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def named(label: str, timepoint: str) -> re.Pattern:
    """A control's accessible name: its visible label, then (hidden) the timepoint it acts on."""
    return re.compile(rf"^{re.escape(label)}\W+{re.escape(timepoint)}$")


def sign_in(page, language: str, email: str) -> None:
    page.goto("/login")
    page.get_by_label(interface(language, "Email")).fill(email)
    page.get_by_label(interface(language, "Password")).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=interface(language, "Sign in")).click()


def staff_token_in(context, live_app) -> bool:
    """Whether any cookie of the context carries a staff session (the session cookie is
    signed, not encrypted: read it as the server would)."""
    serializer = live_app.session_interface.get_signing_serializer(live_app)
    for cookie in context.cookies():
        if cookie["name"] == live_app.config.get(
            "SESSION_COOKIE_NAME", "session"
        ) and "staff_token" in serializer.loads(cookie["value"]):
            return True
    return False


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_tablet_answers_with_a_code_and_never_holds_a_staff_session(
    browse, app, site, make_user, enrolled, invite, language
):
    coordinator = make_user("coordinator", [site])
    invitation = invite(enrolled).invitation
    desk = browse(language)
    sign_in(desk, language, coordinator.email)
    desk.goto(f"/clinic/follow-up/patients/{enrolled.id}")
    assert_accessible(desk)
    label = interface(language, "Answer on a clinic tablet")
    with desk.expect_navigation():
        desk.get_by_role("button", name=named(label, invitation.timepoint)).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(label)
    assert_accessible(desk)
    code = desk.locator(".handoff-code strong").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)

    tablet = browse(language)
    tablet.goto("/t")
    assert_accessible(tablet)
    tablet.get_by_label(interface(language, "Code")).fill("0000-0000")
    with tablet.expect_navigation():
        tablet.get_by_role("button", name=interface(language, "Open")).click()
    expect(tablet.locator(".error-summary")).to_be_visible()
    assert_accessible(tablet)
    tablet.get_by_label(interface(language, "Code")).fill(code)
    with tablet.expect_navigation():
        tablet.get_by_role("button", name=interface(language, "Open")).click()
    expect(tablet).to_have_url(re.compile(r"/survey$"))
    tablet.goto("/survey/1")
    for item_id, value in QOLAF_51.items():
        tablet.locator(f"#{item_id}-{value}").check()
    with tablet.expect_navigation():
        tablet.get_by_role("button", name=interface("es", "Next"), exact=True).click()
    for item_id, value in CCIS_10.items():
        tablet.locator(f"#{item_id}-{value}").check()
    with tablet.expect_navigation():
        tablet.get_by_role("button", name=interface("es", "Check my answers")).click()
    with tablet.expect_navigation():
        tablet.get_by_role("button", name=interface("es", "Send my answers")).click()
    expect(tablet).to_have_url(re.compile(r"/survey/done$"))
    assert not staff_token_in(tablet.context, app)
    assert staff_token_in(desk.context, app)
    db.session.rollback()
    assert set(db.session.scalars(select(Response.mode))) == {"tablet"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_coordinator_types_in_answers_given_on_paper(
    browse, site, make_user, enrolled, invite, language
):
    coordinator = make_user("coordinator", [site])
    invitation = invite(enrolled).invitation
    desk = browse(language)
    sign_in(desk, language, coordinator.email)
    desk.goto(f"/clinic/follow-up/patients/{enrolled.id}")
    label = interface(language, "Enter answers from paper or phone")
    desk.get_by_role("link", name=named(label, invitation.timepoint)).click()
    assert_accessible(desk)
    for item_id, value in QOLAF_51.items():
        desk.locator(f"#qolaf-q-{item_id}-{value}").check()
    with desk.expect_navigation():
        desk.get_by_role("button", name=interface(language, "Save the answers")).click()
    summary = desk.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("li")).to_have_count(1 + len(CCIS_10))  # the mode and CCIS
    assert_accessible(desk)
    desk.locator("#mode-paper").check()
    for item_id, value in CCIS_10.items():
        desk.locator(f"#ccis-{item_id}-{value}").check()
    with desk.expect_navigation():
        desk.get_by_role("button", name=interface(language, "Save the answers")).click()
    expect(desk).to_have_url(re.compile(rf"/patients/{enrolled.id}$"))
    db.session.rollback()
    assert set(db.session.execute(select(Response.mode, Response.entered_by_id))) == {
        ("paper", coordinator.id)
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_coordinator_checks_and_enrols_a_theatre_list(browse, site, make_user, language):
    coordinator = make_user("coordinator", [site])
    day = (date.today() + timedelta(days=10)).isoformat()
    body = (
        "reference,mobile,language,index_date,schedule\n"
        f"L-1,+34612345678,es,{day},\n"
        f"L-2,+34612345679,tr,{day},\n"
        f"<script>alert(1)</script>,12,xx,31/12/2026,Nope\n"
    )
    desk = browse(language)
    sign_in(desk, language, coordinator.email)
    desk.goto("/clinic/follow-up/")
    desk.get_by_role("link", name=interface(language, "Enrol a list")).click()
    assert_accessible(desk)
    desk.get_by_label(interface(language, "CSV file")).set_input_files(
        {"name": "theatre.csv", "mimeType": "text/csv", "buffer": body.encode()}
    )
    with desk.expect_navigation():
        desk.get_by_role("button", name=interface(language, "Check the list")).click()
    expect(desk.locator(".list-preview tbody tr")).to_have_count(3)
    expect(desk.locator(".has-problems .error-text")).to_have_count(5)
    assert_accessible(desk)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 0
    with desk.expect_navigation():
        desk.locator("button[name=action][value=enrol]").click()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_patient_reviews_sends_and_reads_their_own_totals(
    browse, site, enrolled, invite, language
):
    site.patient_results = True
    enrolled.language = language
    db.session.commit()
    phone = browse(language)
    phone.goto(invite(enrolled).path)
    phone.goto("/survey/1")
    expect(phone.locator("#answered-count")).to_have_text(
        interface(language, "%(answered)s of %(total)s answered", answered=0, total=14)
    )
    for item_id, value in QOLAF_51.items():
        phone.locator(f"#{item_id}-{value}").check()
    assert phone.locator("input[type=radio]:checked").count() == 14
    expect(phone.locator("#answered-count")).to_have_text(
        interface(language, "%(answered)s of %(total)s answered", answered=14, total=14)
    )
    with phone.expect_navigation():
        phone.get_by_role("button", name=interface(language, "Next"), exact=True).click()
    for item_id, value in CCIS_10.items():
        phone.locator(f"#{item_id}-{value}").check()
    assert phone.locator("input[type=radio]:checked").count() == 5
    with phone.expect_navigation():
        phone.get_by_role("button", name=interface(language, "Check my answers")).click()
    assert_accessible(phone)
    # Change one answer: back on its page, then straight back to the review.
    change = interface(language, "Change")
    phone.get_by_role("link", name=re.compile(rf"^{re.escape(change)}\W")).first.click()
    expect(phone).to_have_url(re.compile(r"/survey/1\?review=1"))
    with phone.expect_navigation():
        phone.get_by_role("button", name=interface(language, "Back to my answers")).click()
    expect(phone).to_have_url(re.compile(r"/survey/review$"))
    with phone.expect_navigation():
        phone.get_by_role("button", name=interface(language, "Send my answers")).click()
    phone.get_by_role("link", name=interface(language, "See your answers over time")).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        interface(language, "Your answers over time")
    )
    expect(phone.locator(".own-totals li")).to_have_count(2)
    assert_accessible(phone)
