"""Dates and times on pages, written the reader's way (Flask-Babel, the request's locale):
plain functions, so the domain's own texts (when an invitation opens, closes, was sent) read
like the pages around them. Exports, the command line and the audit trail keep ISO 8601."""

import functools
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_time, get_datetime_format
from flask_babel import format_date, get_locale

from survey.settings import settings


def day_text(day: date | None) -> str:
    """A calendar date as the reader's language writes it (Flask-Babel's `format_date`,
    "medium"): 16 Mar 2027 in English, 16 mar 2027 in Spanish. Pages only: exports, the
    command line and the audit trail keep ISO 8601."""
    return _day_in(get_locale(), day) if day else ""


def _day_in(locale: Locale | None, day: date) -> str:
    """`day_text` in the request's `locale` (None outside a request: Babel's default)."""
    return _day_text(str(locale), day) if locale else format_date(day, "medium")


# A page writes the same days and clock times again and again (the clinician list writes two
# on each of its 50 rows) and Babel's formatting was a tenth of that page's time: each text is
# kept per language. Keyed by the locale's name, worked out in the request's own locale, which
# has that name. Bounded, though the days and minutes any clinic's pages show run out first.
@functools.lru_cache(maxsize=16384)
def _day_text(locale: str, day: date) -> str:
    return format_date(day, "medium")


@functools.lru_cache(maxsize=16384)
def _clock_text(locale: Locale, clock: time) -> str:
    return format_time(clock, "short", locale=locale)


@functools.lru_cache(maxsize=64)
def _datetime_pattern(locale: Locale) -> str:
    return str(get_datetime_format("medium", locale=locale)).replace("'", "")


def local_day(moment: datetime | None, zone: str) -> str:
    """The date it was where the patient lives at `moment`, in the reader's language."""
    return day_text(moment.astimezone(ZoneInfo(zone)).date()) if moment else ""


def local_datetime(moment: datetime | None, zone: str, with_zone: bool = True) -> str:
    """A moment as the clock reads in `zone`, written the reader's way, with the zone's
    abbreviation: "Mar 16, 2027, 9:00 AM CET" in English, "16 mar 2027, 9:00 CET" in Spanish.
    The date and time are put together with the language's own pattern, the time without
    seconds."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    current = get_locale()  # once: Flask-Babel's lookup costs more than a kept text
    locale = current or Locale.parse(settings().default_language)
    clock = _clock_text(locale, local.time())
    text = _datetime_pattern(locale).replace("{1}", _day_in(current, local.date()))
    text = text.replace("{0}", clock)
    return f"{text} {local.tzname()}" if with_zone else text


def utc_datetime(moment: datetime | None) -> str:
    """A moment in UTC, written the reader's way, without the zone: for staff pages whose
    text already says "UTC"."""
    return local_datetime(moment, "UTC", with_zone=False)
