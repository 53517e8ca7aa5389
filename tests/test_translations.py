"""Every shipped language is complete: no string a user sees falls back to English."""

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from survey.cli.translate import CHECKOUT, TRANSLATIONS

CATALOGS = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}
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


def test_every_shipped_language_has_its_catalog():
    assert {path.parts[-3] for path in CATALOGS} >= {"es", "tr", "ar", "it", "pt_BR"}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_every_translation_keeps_the_placeholders_of_its_message(path):
    """A translation that drops or renames a %(name)s placeholder breaks its page; Babel's
    own checks compare them (plural forms included: Arabic has six)."""
    catalog = load(path)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == [], f"{path.parts[-3]}: {problems[:5]}"
    plurals = [message for message in catalog if message.id and isinstance(message.id, tuple)]
    assert plurals, "the catalog has plural messages"
    assert all(len(message.string) == catalog.num_plurals for message in plurals)


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_sms_texts_keep_their_placeholders_and_the_provider_keywords(path):
    """The SMS texts (context "sms") are formatted with str.format: every {placeholder} of the
    English must be in the translation, and STOP (and START in the HELP replies) stay English."""
    checked = 0
    for message in load(path):
        if message.context != "sms":
            continue
        assert sorted(re.findall(r"\{\w+\}", message.string)) == sorted(
            re.findall(r"\{\w+\}", message.id)
        ), message.id
        for keyword in ("STOP", "START"):
            assert (keyword in message.string) == (keyword in message.id), message.id
        checked += 1
    assert checked == 8  # the seven texts and the neutral name


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_no_catalog_has_an_untranslated_or_fuzzy_entry(path):
    catalog = load(path)
    problems = [
        message.id
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not all(message.string if isinstance(message.string, tuple) else [message.string])
        )
    ]
    assert problems == [], f"{path.parts[-3]}: untranslated or fuzzy: {problems[:10]}"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_every_string_in_the_code_is_in_every_catalog(path):
    catalog_ids = {
        (message.context, message.id[0] if isinstance(message.id, tuple) else message.id)
        for message in load(path)
        if message.id
    }
    missing = sorted(source_strings() - catalog_ids)
    assert missing == [], f"run `flask --app wsgi translate update` and translate: {missing[:10]}"
