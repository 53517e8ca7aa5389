"""The coordinator's new pieces of #15 on a 360 px phone, in Spanish and Turkish, checked with
axe-core: the patient page with a reply waiting, and starting a new episode of care up to its
confirmation step."""

import re
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from survey.extensions import db
from survey.models import Reply
from tests.conftest import PASSWORD
from tests.fixtures.browser import WAIT_MS
from tests.fixtures.patients import interface

pytestmark = pytest.mark.browser

AXE = Axe()
PHONE = {"width": 360, "height": 740}


def assert_fits_and_is_accessible(page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > document.documentElement.clientWidth).slice(-3).map(e => e.outerHTML.slice(0, 160))"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways: {wide}"


@pytest.mark.parametrize("language", ["es", "tr"])
def test_a_coordinator_reads_a_reply_and_starts_a_new_episode_on_a_phone(
    browser, live_server, site, make_user, enrolled, invite, language
):
    coordinator = make_user("coordinator", [site])
    invite(enrolled)
    db.session.add(Reply(site_id=site.id, patient_id=enrolled.id, body="Me duele al sentarme"))
    db.session.commit()
    context = browser.new_context(viewport=PHONE, locale=language, base_url=live_server)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label(interface(language, "Email")).fill(coordinator.email)
        page.get_by_label(interface(language, "Password")).fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name=interface(language, "Sign in")).click()
        page.goto(f"/clinic/follow-up/patients/{enrolled.id}")
        assert page.locator("html").get_attribute("lang") == language
        reply = page.locator("tr.unhandled")
        assert reply.count() == 1 and "Me duele al sentarme" in reply.inner_text()
        assert_fits_and_is_accessible(page)

        page.goto(f"/clinic/follow-up/patients/{enrolled.id}/episode")
        assert_fits_and_is_accessible(page)
        later = (date.today() + timedelta(days=60)).isoformat()
        page.locator("[name=index_date]").fill(later)
        page.locator("[name=earlier][value=keep]").check()
        with page.expect_navigation():
            page.locator("form.stack button[type=submit]").click()
        confirm = page.get_by_role("button", name=interface(language, "Start the new episode"))
        assert confirm.is_visible()
        assert_fits_and_is_accessible(page)
        with page.expect_navigation():
            confirm.click()
        assert re.search(rf"/patients/{enrolled.id}$", page.url)
        db.session.rollback()
        db.session.refresh(enrolled)
        assert enrolled.index_date.isoformat() == later
    finally:
        context.close()
