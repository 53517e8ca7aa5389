"""Questionnaire items rendered once per process, not on every page.

A page shows 14 questions of five answers each: rendering them is most of a page's cost,
yet each question can only be in a few states (which answer is checked, flagged or not) in
each language. The HTML for each state is kept the first time it is rendered, for as long
as the instrument object in use stays the same: an imported wording makes a new object
(survey/domain/wording_in_use.py), which starts afresh."""

import re

from flask import current_app, get_template_attribute
from markupsafe import Markup, escape

from survey.instruments import Instrument, Item

TEMPLATE = "patient/_item.html"

# instrument id -> (the instrument in use, {(language, item id, answer, invalid): HTML})
_rendered: dict[str, tuple[Instrument, dict[tuple, Markup]]] = {}


def item_fieldset(
    instrument: Instrument, item: Item, language: str, answer: int | None, invalid: bool
) -> Markup:
    """One question with its answers as the questionnaire page shows it."""
    if current_app.jinja_env.auto_reload:  # development: show template edits at once
        macro = get_template_attribute(TEMPLATE, "item_fieldset")
        return macro(instrument, item, language, answer, invalid)
    return _kept(instrument, item, language, answer, invalid, _kept_for(instrument))


def item_fieldsets(
    instrument: Instrument, language: str, answered: dict[str, int], missing: list[str]
) -> Markup:
    """Every question of the page, as the questionnaire page lays them out: one call from the
    template rather than one per question (each call from a template costs more than
    looking its kept HTML up)."""
    if current_app.jinja_env.auto_reload:
        parts = [
            item_fieldset(instrument, item, language, answered.get(item.id), item.id in missing)
            for item in instrument.items
        ]
    else:
        kept = _kept_for(instrument)
        parts = [
            _kept(instrument, item, language, answered.get(item.id), item.id in missing, kept)
            for item in instrument.items
        ]
    # The whitespace the page's loop put around each question.
    return _AROUND + _BETWEEN.join(parts) + _AROUND


_AROUND = Markup("\n  ")
_BETWEEN = Markup("\n  \n  ")


def _kept_for(instrument: Instrument) -> dict[tuple, Markup]:
    kept = _rendered.get(instrument.id)
    if kept is None or kept[0] is not instrument:
        kept = _rendered[instrument.id] = (instrument, {})
    return kept[1]


def _kept(
    instrument: Instrument,
    item: Item,
    language: str,
    answer: int | None,
    invalid: bool,
    kept: dict[tuple, Markup],
) -> Markup:
    key = (language, item.id, answer, invalid)
    html = kept.get(key)
    if html is None:
        macro = get_template_attribute(TEMPLATE, "item_fieldset")
        # A macro of an autoescaping template returns Markup: its text is already escaped.
        html = kept[key] = macro(instrument, item, language, answer, invalid)
    return html


# A clinic's contact as a phone number: digits, spaces and the usual separators, 6 digits or more.
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{4,}[0-9]")


def contact_line(contact: str) -> Markup:
    """The clinic's contact, each phone number in it a `tel:` link a patient can tap."""
    parts: list[Markup] = []
    last = 0
    for match in _PHONE.finditer(contact):
        number = match.group(0)
        digits = re.sub(r"[^0-9+]", "", number)
        parts.append(escape(contact[last : match.start()]))
        if len(digits.lstrip("+")) < 6:
            parts.append(escape(number))
        else:
            parts.append(Markup('<a href="tel:{}">{}</a>').format(digits, number))
        last = match.end()
    parts.append(escape(contact[last:]))
    return Markup("").join(parts)
