"""Reading what a questionnaire page posts, strictly: anything a browser could not have sent
from our own page is refused as a whole, so a tampered post never stores part of itself."""

from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from survey.instruments import Instrument

# What the page's buttons (and its small autosave script) send besides the answers.
ACTIONS = ("next", "review", "back", "save")
CONTROL_FIELDS = frozenset({"csrf_token", "action", "lang"})
# What the "please contact me" form on the thank-you page sends.
CONTACT_FIELDS = frozenset({"csrf_token", "reason"})


class BadPost(ValueError):
    """The post is not something our page sends; the message (English) is for logs and tests."""


@dataclass(frozen=True)
class PagePost:
    """One posted page: the answers given on it and what the patient asked to do next.

    `action` is "next", "review" (the last page, to the review before sending), "back",
    "save" (the autosave script) or "language", in which case
    `language` is the one picked."""

    answers: dict[str, int]
    action: str
    language: str | None = None


def parse_page(form: MultiDict, instrument: Instrument, languages: Iterable[str]) -> PagePost:
    """The answers and action of a page post for `instrument`; BadPost for anything else.

    Every key must be one of the instrument's item ids or a control field, sent once; every
    answer must be exactly one of the scale's values as the page writes them ("3", not "03")."""
    item_ids = {item.id for item in instrument.items}
    scale = {str(option.value): option.value for option in instrument.options}
    answers: dict[str, int] = {}
    controls: dict[str, str] = {}
    for key, values in form.lists():
        if key not in item_ids and key not in CONTROL_FIELDS:
            raise BadPost(f"{instrument.id} has no item {key[:40]!r}")
        if len(values) != 1:
            raise BadPost(f"{key!r} was sent {len(values)} times")
        if key in CONTROL_FIELDS:
            controls[key] = values[0]
        elif values[0] in scale:
            answers[key] = scale[values[0]]
        else:
            raise BadPost(f"{values[0][:40]!r} is not an answer to {key!r}")

    language = controls.get("lang")
    if language is not None:
        if language not in languages:
            raise BadPost(f"{language[:16]!r} is not a language of this service")
        return PagePost(answers, "language", language)
    action = controls.get("action", "next")
    if action not in ACTIONS:
        raise BadPost(f"{action[:16]!r} is not something this page does")
    return PagePost(answers, action)


def parse_contact(form: MultiDict) -> str:
    """The reason a "please contact me" post gives (may be empty); BadPost for a post our
    thank-you page could not have sent."""
    for key, values in form.lists():
        if key not in CONTACT_FIELDS:
            raise BadPost(f"the contact form has no field {key[:40]!r}")
        if len(values) != 1:
            raise BadPost(f"{key!r} was sent {len(values)} times")
    return form.get("reason", "")
