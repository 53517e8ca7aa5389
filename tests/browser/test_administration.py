"""Administration and completion analytics in headless Chromium: an admin adds a clinician,
who sets their password with the one-time link and a second factor from the typed key, then
signs in; every new page passes axe-core at 360 and 1280 pixels, in English, Spanish and
Turkish, with no sideways scroll."""

import re

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe

from survey.extensions import db
from survey.models import User
from tests.clinic.analytics_data import seed
from tests.conftest import PASSWORD
from tests.fixtures.browser import WAIT_MS

pytestmark = pytest.mark.browser

AXE = Axe()
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}
NEW_PASSWORD = "a long and private passphrase"


def assert_accessible(page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def assert_no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


@pytest.fixture
def open_browser(browser, live_server, app):
    contexts = []

    def make(viewport=DESK, locale="en-GB"):
        context = browser.new_context(viewport=viewport, locale=locale, base_url=live_server)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    db.session.rollback()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("button[type=submit]").click()


def test_an_admin_adds_a_clinician_who_signs_in_with_a_second_factor(open_browser, site, make_user):
    admin = make_user("admin", [site], email="head@clinic.example")
    desk = open_browser()
    sign_in(desk, admin.email)
    desk.wait_for_url(re.compile(r"/clinic/$"))
    desk.goto("/clinic/admin/staff")
    desk.get_by_role("link", name="Add a member of staff").click()
    assert_accessible(desk)
    desk.get_by_label("Email").fill("dr.new@clinic.example")
    desk.get_by_label("Role").select_option("clinician")
    desk.get_by_label(site.name).check()
    assert desk.get_by_label("Require a second factor").is_checked()
    desk.get_by_role("button", name="Add and get the link").click()
    link = desk.get_by_label("One-time link").input_value()
    assert "/account/set-password/" in link
    assert_accessible(desk)

    # The clinician, on their own phone, with the link the admin handed over.
    phone = open_browser(PHONE)
    phone.goto(link)
    assert phone.get_by_role("heading", name="Choose your password").is_visible()
    assert_accessible(phone)
    assert_no_sideways_scroll(phone)
    phone.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("New password again").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Set password").click()
    phone.wait_for_url(re.compile(r"/login"))
    assert phone.get_by_text("Your password is set.").is_visible()
    sign_in(phone, "dr.new@clinic.example", NEW_PASSWORD)
    phone.wait_for_url(re.compile(r"/account/two-factor$"))
    qr = phone.get_by_role("img", name="QR code of the key for your authenticator app")
    assert qr.is_visible()
    assert_accessible(phone)
    assert_no_sideways_scroll(phone)
    key = phone.locator("code.totp-key").inner_text().replace(" ", "")
    phone.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(key).now())
    phone.get_by_role("button", name="Turn on the second factor").click()
    phone.wait_for_url(re.compile(r"/account$"))
    assert phone.get_by_text("Your second factor is set up.").is_visible()
    phone.goto("/clinic/")
    assert phone.url.endswith("/clinic/")
    db.session.rollback()
    user = db.session.query(User).filter_by(email="dr.new@clinic.example").one()
    assert user.totp_secret == key and user.last_login_at is not None

    # The link was for one use only.
    other = open_browser(PHONE)
    other.goto(link)
    assert other.get_by_role("heading", name="This link does not work").is_visible()
    assert_accessible(other)


@pytest.mark.parametrize(
    "locale, heading",
    [
        ("en-GB", "Sites"),
        ("es-ES", "Centros"),
        ("tr-TR", "Merkezler"),
    ],
)
@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["360", "1280"])
def test_the_administration_pages_are_accessible(
    open_browser, site, make_user, locale, heading, viewport
):
    admin = make_user("admin", [site])
    page = open_browser(viewport, locale)
    sign_in(page, admin.email)
    page.wait_for_url(re.compile(r"/clinic/$"))
    for path in (
        "/clinic/admin/",
        "/clinic/admin/sites",
        "/clinic/admin/sites/new",
        f"/clinic/admin/sites/{site.id}",
        "/clinic/admin/staff",
        "/clinic/admin/staff/new",
    ):
        page.goto(path)
        assert_accessible(page)
        assert_no_sideways_scroll(page)
    page.goto("/clinic/admin/sites")
    assert page.get_by_role("heading", name=heading, level=1).is_visible()
    assert page.locator("html").get_attribute("lang") == locale[:2]
    # A refused form shows its messages, still accessible.
    page.goto("/clinic/admin/sites/new")
    page.locator("form.stack button[type=submit]").click()
    assert page.locator(".error-text").count() >= 2
    assert_accessible(page)


@pytest.mark.parametrize(
    "locale, title",
    [
        ("en-GB", "Completion by timepoint"),
        ("es-ES", "Cumplimentación por momento de evaluación"),
        ("tr-TR", "Değerlendirme zamanına göre tamamlanma"),
    ],
)
@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["360", "1280"])
def test_the_analytics_page_is_accessible_and_draws_its_tables_figures(
    open_browser, site, other_site, make_user, make_patient, locale, title, viewport
):
    seed(make_patient, site, other_site)
    clinician = make_user("clinician", [site])
    page = open_browser(viewport, locale)
    sign_in(page, clinician.email)
    page.wait_for_url(re.compile(r"/clinic/$"))
    page.goto("/clinic/analytics")
    chart = page.get_by_role("img", name=title)
    assert chart.count() == 1
    assert page.locator("#chart-timepoint desc").text_content().count(";") == 2
    # The chart draws what its table lists, in the same order.
    drawn = page.locator("#chart-timepoint text.value").all_text_contents()
    listed = page.locator("#table-timepoint tbody tr td:last-child").all_text_contents()
    assert drawn == listed and len(drawn) == 3
    assert_accessible(page)
    assert_no_sideways_scroll(page)
    with page.expect_download() as download:
        page.locator("a[download]").click()
    assert download.value.suggested_filename.startswith("completion-")


def test_the_staff_edit_page_is_accessible_in_each_language_and_width(
    open_browser, site, make_user
):
    """One browser context per width, the three languages in turn within it (cheaper than a
    context per language): the page, its refused form and a saved change."""
    admin = make_user("admin", [site], email="lead@clinic.example")
    colleague = make_user("coordinator", [site], email="nurse@clinic.example")
    headings = {"en": "Edit nurse@clinic.example", "es": "Editar nurse@clinic.example"}
    headings["tr"] = "nurse@clinic.example hesabını düzenle"
    checked = []
    speaks = {"language": "en"}  # what the browser asks for, changed between languages

    def in_language(route):
        route.continue_(headers={**route.request.headers, "accept-language": speaks["language"]})

    for viewport in (PHONE, DESK):
        page = open_browser(viewport)
        page.route(re.compile(r"/clinic/"), in_language)
        sign_in(page, admin.email)
        page.wait_for_url(re.compile(r"/clinic/$"))
        for language in ("en", "es", "tr"):
            speaks["language"] = language
            page.goto(f"/clinic/admin/staff/{colleague.id}")
            assert page.locator("html").get_attribute("lang") == language
            assert page.get_by_role("heading", level=1).inner_text() == headings[language]
            assert_accessible(page)
            assert_no_sideways_scroll(page)
            # Untick the only site: refused, with a summary and the message on the field.
            page.get_by_label(site.name).uncheck()
            page.locator("form.stack button[type=submit]").click()
            assert page.locator(".error-summary").is_visible()
            assert page.locator("#site_ids-error").is_visible()
            assert_accessible(page)
            assert_no_sideways_scroll(page)
            checked.append((viewport["width"], language))
        speaks["language"] = "en"
        page.goto(f"/clinic/admin/staff/{colleague.id}")
        role = "clinician" if viewport is PHONE else "coordinator"
        page.get_by_label("Role").select_option(role)
        page.get_by_role("button", name="Save the changes").click()
        page.wait_for_url(re.compile(r"/clinic/admin/staff$"))
        assert page.get_by_text("The changes to nurse@clinic.example are saved.").is_visible()
        db.session.expire_all()
        assert db.session.get(User, colleague.id).role == role
    assert len(checked) == 6
