"""Which language a page speaks, and the helpers templates need for it."""

import functools

from babel import Locale
from flask import (
    Flask,
    current_app,
    g,
    get_template_attribute,
    has_request_context,
    request,
    session,
)
from flask_babel import _get_current_context as babel_context
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from markupsafe import Markup

from survey.date_text import day_text, local_datetime, local_day, utc_datetime
from survey.domain.languages import html_lang, interface_languages
from survey.settings import settings


def select_locale() -> str:
    """The language for this request.

    A page that knows its reader sets `g.locale` (a patient's chosen or stored language);
    otherwise a staff member's own choice, then the browser's Accept-Language, then the
    site default. Outside a request (CLI, dispatcher) there is no reader: the default."""
    if not has_request_context():
        return settings().default_language
    languages = interface_languages()
    chosen = g.get("locale") or session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or settings().default_language


@functools.cache
def text_direction(locale: str) -> str:
    """`ltr` or `rtl`, for the `dir` attribute of a page in this locale."""
    return "rtl" if Locale.parse(locale).character_order == "right-to-left" else "ltr"


@functools.cache
def language_name(code: str) -> str:
    """A language's name in that language itself, as a language switcher shows it."""
    return Locale.parse(code).get_display_name(code).capitalize()


# The patient pages' language switcher: six links (or buttons), each with its language's tag
# and name, cost a quarter of a patient page's middleware (six url_for calls among them), yet
# they depend only on where they point and the page's language. Rendered once per process for
# each, as the questionnaire's items are (survey/patient/fragments.py); a link's address holds
# the page's path, which a link page takes from its URL, hence a bounded cache.
SWITCH_TEMPLATE = "patient/_language_switch.html"


@pass_context
def language_links(context, address: str) -> Markup:
    """The switcher as links to `address` in each language the page offers."""
    return _language_switch("links", address, context["languages"], context["current_locale"])


@pass_context
def language_buttons(context, form: str) -> Markup:
    """The switcher as buttons posting the form whose id is `form` with the language chosen."""
    return _language_switch("buttons", form, context["languages"], context["current_locale"])


def _language_switch(macro: str, argument: str, languages, current: str) -> Markup:
    if current_app.jinja_env.auto_reload:  # development: show template edits at once
        return _render_switch(macro, argument, tuple(languages), current)
    return _kept_switch(macro, argument, tuple(languages), current)


def _render_switch(macro: str, argument: str, languages: tuple, current: str) -> Markup:
    choices = [(code, html_lang(code), language_name(code), code == current) for code in languages]
    return get_template_attribute(SWITCH_TEMPLATE, macro)(choices, argument)


_kept_switch = functools.lru_cache(maxsize=1024)(_render_switch)


def translations():
    """This request's catalog, looked up once. Flask-Babel looks it up again on every gettext
    call (the context three times, the locale, its name as a string: a tenth of a staff page's
    CPU went there). It is kept where Flask-Babel's own `refresh()` and `force_locale()` clear
    and restore a request's catalog (`babel_translations`), so a page whose language changes
    mid-request, or text rendered in a patient's language, still gets the right one."""
    context = babel_context()
    if context is None:
        return get_translations()
    catalog = getattr(context, "babel_translations", None)
    if catalog is None:
        catalog = context.babel_translations = get_translations()
    return catalog


# Where a template's context keeps the catalog it was rendered with (put there by the
# context processor below, once per render).
CATALOG = "request_catalog"


def template_catalog(context):
    """The catalog of the template being rendered: looked up once when its rendering began
    (finding the request's catalog again for each of a page's texts cost a tenth of the
    patient layout's CPU); a macro rendered on its own (survey/patient/fragments.py) has no
    such context and looks it up."""
    return context.get(CATALOG) or translations()


def gettext(string: str, **variables) -> str:
    """Flask-Babel's `gettext` through the catalog looked up once per request: for texts
    worded in Python on every row of a page (a change, what it was measured against)."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def pgettext(context: str, string: str, **variables) -> str:
    """Flask-Babel's `pgettext` likewise."""
    text = translations().upgettext(context, string)
    return text % variables if variables else text


def install_template_gettext(app: Flask) -> None:
    """Templates' `_`, `gettext`, `ngettext`, `pgettext` and `npgettext` through the catalog
    looked up once per render (Flask-Babel installs the same callables, looking it up each
    time). Jinja's i18n extension still escapes and formats what they return."""
    app.jinja_env.install_gettext_callables(
        gettext=pass_context(lambda context, s: template_catalog(context).ugettext(s)),
        ngettext=pass_context(
            lambda context, s, p, n: template_catalog(context).ungettext(s, p, n)
        ),
        newstyle=True,
        pgettext=pass_context(lambda context, c, s: template_catalog(context).upgettext(c, s)),
        npgettext=pass_context(
            lambda context, c, s, p, n: template_catalog(context).unpgettext(c, s, p, n)
        ),
    )


def init_app(app: Flask) -> None:
    install_template_gettext(app)
    # Dates on pages in the reader's language (Flask-Babel also gives `dateformat` and
    # `datetimeformat`; these add the patient's clock and the zone's name).
    app.jinja_env.filters["day"] = day_text
    app.jinja_env.filters["utc_datetime"] = utc_datetime
    app.jinja_env.globals["local_datetime"] = local_datetime
    app.jinja_env.globals["local_day"] = local_day
    app.jinja_env.globals["language_links"] = language_links
    app.jinja_env.globals["language_buttons"] = language_buttons

    @app.context_processor
    def locale_context() -> dict:
        locale = str(get_locale())
        return {
            CATALOG: translations(),
            "current_locale": locale,
            "current_lang_tag": html_lang(locale),
            "text_direction": text_direction(locale),
            "language_name": language_name,
            # For text in another language than the page's (a patient's answers on a staff
            # page): its own lang tag and direction, so Arabic reads right to left anywhere.
            "lang_tag": html_lang,
            "direction_of": text_direction,
            # A patient's pages offer only the languages patients can answer in (set by the
            # patient blueprint); everything else, the interface languages.
            "languages": g.get("languages") or interface_languages(app),
        }
