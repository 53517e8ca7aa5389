"""Translated messages that domain code can raise anywhere: in a request they speak the
reader's language; in the dispatcher or a CLI command (no request, so no reader) they stay
in English instead of failing."""

from flask import has_request_context
from flask_babel import LazyString, gettext


def lazy_gettext(text: str, **params) -> LazyString:
    """Like flask_babel.lazy_gettext, safe outside a request. Import it as `_l`, so that
    `flask translate update` extracts the text."""
    return LazyString(_translate, text, params)


def _translate(text: str, params: dict) -> str:
    if has_request_context():
        return gettext(text, **params)
    return text % params if params else text
