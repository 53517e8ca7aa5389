"""A patient on a phone, end to end, in headless Chromium: every page checked with axe-core."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import func, select

from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import DraftAnswer, Response
from tests.fixtures.browser import wait_for_rows
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface

pytestmark = pytest.mark.browser

AXE = Axe()
# Different answers in each language, so a total can only match if every answer arrived.
ANSWERS = {
    "en": (QOLAF_51, CCIS_10),  # QoLAF-Q 51 "high", CCIS 10
    "es": ({f"q{n}": 2 for n in range(1, 15)}, dict.fromkeys(CCIS_10, 0)),  # 28, 0
    "tr": (
        {f"q{n}": n % 5 + 1 for n in range(1, 15)},
        {"solid": 0, "liquid": 1, "gas": 4, "pad": 3, "lifestyle": 2},
    ),  # 40, 10
}


def assert_accessible(page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def assert_fits_a_small_phone(page) -> None:
    """No sideways scrolling at 320 px wide, nor with text at 200 %."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": size["height"]})
    for font_size in ("100%", "200%"):
        page.evaluate(f"document.documentElement.style.fontSize = '{font_size}'")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways at 320 px with text at {font_size}"
    page.evaluate("document.documentElement.style.fontSize = ''")
    page.set_viewport_size(size)


def choose(page, answers: dict) -> None:
    for item_id, value in answers.items():
        page.locator(f"#{item_id}-{value}").check()


def press(page, language: str, label: str) -> None:
    """Press a button that sends the page, and wait for the server's answer to load."""
    with page.expect_navigation():
        page.get_by_role("button", name=interface(language, label), exact=True).click()


def heading(page):
    return page.get_by_role("heading", level=1)


def at(path: str) -> re.Pattern:
    return re.compile(re.escape(path) + "$")


def stored_totals() -> dict[str, int]:
    db.session.rollback()
    return dict(db.session.execute(select(Response.instrument_id, Response.total)).all())


@pytest.mark.parametrize("language", ["en", "es", "tr"])
def test_a_patient_completes_both_questionnaires_in_their_own_language(
    new_phone, enrolled, invite, language
):
    enrolled.language = language
    db.session.commit()
    link = invite(enrolled)
    qolaf_answers, ccis_answers = ANSWERS[language]
    page = new_phone(locale="en-GB")  # the stored preference wins over the browser's

    page.goto(link.path)
    expect(page).to_have_url(at("/survey"))  # the token is gone from the address bar
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    assert_accessible(page)
    page.get_by_role("link", name=interface(language, "Start")).click()
    expect(page).to_have_url(at("/survey/1"))

    qolaf = get_instrument("qolaf-q")
    expect(heading(page)).to_have_text(qolaf.title(language))
    expect(page.get_by_text(qolaf.recall_period(language), exact=True)).to_be_visible()
    assert_accessible(page)
    assert_fits_a_small_phone(page)
    choose(page, qolaf_answers)
    press(page, language, "Next")

    ccis = get_instrument("ccis")
    expect(heading(page)).to_have_text(ccis.title(language))
    progress = interface(language, "Questionnaire %(step)d of %(steps)d", step=2, steps=2)
    expect(page.locator(".progress")).to_have_text(progress)
    # Sending with a question left out: the gap is named in the patient's language.
    choose(page, {key: value for key, value in ccis_answers.items() if key != "gas"})
    press(page, language, "Check my answers")
    flag = interface(language, "Please choose an answer.")
    expect(page.locator("#gas-error")).to_have_text(flag)
    expect(page.locator(f"#solid-{ccis_answers['solid']}")).to_be_checked()
    assert_accessible(page)
    expect(page.locator(".error-summary")).to_be_focused()
    choose(page, {"gas": ccis_answers["gas"]})
    press(page, language, "Check my answers")

    # The review: every answer, each a tap from being changed, then Send.
    expect(page).to_have_url(at("/survey/review"))
    expect(heading(page)).to_have_text(interface(language, "Check your answers"))
    expect(page.locator(".review-list li")).to_have_count(14 + 5)
    assert_accessible(page)
    assert_fits_a_small_phone(page)
    press(page, language, "Send my answers")

    expect(page).to_have_url(at("/survey/done"))
    expect(heading(page)).to_have_text(interface(language, "Thank you"))
    assert_accessible(page)
    assert stored_totals() == {
        "qolaf-q": sum(qolaf_answers.values()),
        "ccis": sum(ccis_answers.values()),
    }


@pytest.mark.parametrize("language", ["en", "es", "tr"])
def test_every_page_for_a_link_that_cannot_be_answered_is_accessible(
    new_phone, enrolled, invite, language
):
    enrolled.language = language
    db.session.commit()
    page = new_phone(locale=f"{language}-XX")
    for state, title in [
        ("expired", "This link has expired"),
        ("cancelled", "These questionnaires are no longer needed"),
        ("not yet open", "These questionnaires are not open yet"),
        ("completed", "Thank you"),
    ]:
        page.goto(invite(enrolled, state).path)
        expect(heading(page)).to_have_text(interface(language, title))
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert_accessible(page)
    response = page.goto("/s/" + "N" * 22)
    assert response.status == 404
    expect(heading(page)).to_have_text(interface(language, "This link does not work"))
    assert_accessible(page)


def test_a_patient_answers_every_question_with_the_keyboard_alone(page, enrolled, invite):
    enrolled.language = "en"
    db.session.commit()
    page.goto(invite(enrolled).path)
    page.keyboard.press("Tab")  # the skip link comes first
    page.keyboard.press("Enter")
    for _ in range(10):
        if page.evaluate("document.activeElement.textContent.trim()") == "Start":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    for step, answers in enumerate(ANSWERS["en"], start=1):
        page.wait_for_url(f"**/survey/{step}")
        # The header's language switch (one button per patient language) comes before the
        # questions, as a page's landmarks do; the skip link jumps past it to the questions.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
        page.keyboard.press("Enter")
        for item_id, value in answers.items():
            # Tab into the question's radio group; Space picks the first answer and the
            # arrow keys move the choice along the scale.
            for _ in range(6):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.name") == item_id:
                    break
            assert page.evaluate("document.activeElement.name") == item_id
            page.keyboard.press("Space")
            for _ in range(value - int(page.evaluate("document.activeElement.value"))):
                page.keyboard.press("ArrowDown")
            expect(page.locator(f"#{item_id}-{value}")).to_be_checked()
        page.keyboard.press("Tab")
        # The last page leads to the review of every answer.
        expected = "review" if step == len(ANSWERS["en"]) else "next"
        assert page.evaluate("document.activeElement.value") == expected
        page.keyboard.press("Enter")
    page.wait_for_url("**/survey/review")
    # Past the language links and every Change link to Send.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "next":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send my answers"
    page.keyboard.press("Enter")
    page.wait_for_url("**/survey/done")
    assert stored_totals() == {"qolaf-q": 51, "ccis": 10}


def test_a_patient_who_closes_the_page_midway_finds_every_answer_on_reopening(
    new_phone, enrolled, invite
):
    link = invite(enrolled)
    page = new_phone()
    page.goto(link.path)
    page.goto("/survey/1")
    first_five = dict(list(QOLAF_51.items())[:5])
    choose(page, first_five)
    assert wait_for_rows(DraftAnswer, 5) == 5  # each answer is saved as it is chosen
    page.context.close()

    page = new_phone()
    page.goto(link.path)
    expect(page).to_have_url(at("/survey/1"))
    for item_id, value in first_five.items():
        expect(page.locator(f"#{item_id}-{value}")).to_be_checked()
    choose(page, QOLAF_51)
    press(page, "es", "Next")
    page.context.close()

    page = new_phone()
    page.goto(link.path)
    expect(page).to_have_url(at("/survey/2"))
    choose(page, CCIS_10)
    press(page, "es", "Check my answers")
    press(page, "es", "Send my answers")
    expect(page).to_have_url(at("/survey/done"))
    assert stored_totals() == {"qolaf-q": 51, "ccis": 10}


def test_a_patient_without_javascript_completes_and_resumes(new_phone, enrolled, invite):
    link = invite(enrolled)
    page = new_phone(javascript=False)
    page.goto(link.path)
    page.goto("/survey/1")
    choose(page, {"q1": 2})
    press(page, "es", "Next")  # incomplete: the server names the 13 gaps
    expect(page.locator(".error-summary li")).to_have_count(13)
    expect(page.locator("#q1-2")).to_be_checked()
    choose(page, QOLAF_51)
    press(page, "es", "Next")
    page.context.close()

    page = new_phone(javascript=False)
    page.goto(link.path)
    expect(page).to_have_url(at("/survey/2"))
    # Switching language posts the page, so what was just chosen is kept.
    choose(page, {"solid": 2, "liquid": 2})
    with page.expect_navigation():
        page.get_by_role("button", name="Türkçe").click()
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.locator("#liquid-2")).to_be_checked()
    choose(page, CCIS_10)
    press(page, "tr", "Check my answers")
    press(page, "tr", "Send my answers")
    expect(page).to_have_url(at("/survey/done"))
    assert stored_totals() == {"qolaf-q": 51, "ccis": 10}


def test_a_double_tap_the_back_button_and_a_retry_never_store_a_second_response(
    page, enrolled, invite
):
    page.goto(invite(enrolled).path)
    page.goto("/survey/1")
    choose(page, QOLAF_51)
    press(page, "es", "Next")
    choose(page, CCIS_10)
    form = dict(
        page.evaluate("Array.from(new FormData(document.getElementById('answers')).entries())")
    )
    press(page, "es", "Check my answers")
    page.get_by_role("button", name=interface("es", "Send my answers")).dblclick()
    page.wait_for_url("**/survey/done")

    page.go_back()  # the questionnaire page is not cached: the server sends the thank-you
    expect(page).to_have_url(at("/survey/done"))
    retry = page.request.post("/survey/2", form={**form, "action": "next"})
    assert retry.ok and retry.url.endswith("/survey/done")

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    assert stored_totals() == {"qolaf-q": 51, "ccis": 10}


def test_a_patient_who_opens_an_expired_or_completed_link_is_told_so(page, enrolled, invite):
    response = page.goto(invite(enrolled, "expired").path)
    assert response.status == 410
    assert "+34 950 000 000" in page.inner_text("main")
    assert page.locator("form").count() == 0

    response = page.goto(invite(enrolled, "completed").path)
    assert response.status == 200
    expect(page).to_have_url(at("/survey/done"))
