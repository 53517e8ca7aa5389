"""Every shipped language is complete: no string a user sees falls back to English."""

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from survey.cli.translate import CHECKOUT, TRANSLATIONS

CATALOGS = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("survey/**.py", "python"), ("templates/**.html", "jinja2")]


def load(path: Path):
    return read_po(io.BytesIO(path.read_bytes()))


def source_strings() -> set[tuple[str | None, str]]:
    """(context, message id) of every string in the code: an SMS text (context "sms") is
    not the same entry as a page string that happens to read the same."""
    found = set()
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(CHECKOUT), method_map=METHODS, keywords=KEYWORDS
    ):
        if filename.startswith(("survey", "templates")):
            found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def test_spanish_and_turkish_are_shipped():
    assert {path.parts[-3] for path in CATALOGS} >= {"es", "tr"}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_no_catalog_has_an_untranslated_or_fuzzy_entry(path):
    catalog = load(path)
    problems = [
        message.id
        for message in catalog
        if message.id
        and (message.fuzzy or not all(message.string if isinstance(message.string, tuple)
                                      else [message.string]))
    ]
    assert problems == [], f"{path.parts[-3]}: untranslated or fuzzy: {problems[:10]}"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_every_string_in_the_code_is_in_every_catalog(path):
    catalog_ids = {(message.context, message.id[0] if isinstance(message.id, tuple) else message.id)
                   for message in load(path) if message.id}
    missing = sorted(source_strings() - catalog_ids)
    assert missing == [], f"run `flask --app wsgi translate update` and translate: {missing[:10]}"
