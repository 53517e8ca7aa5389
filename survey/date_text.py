"""Dates and times on pages, written the reader's way (Flask-Babel, the request's locale):
plain functions, so the domain's own texts (when an invitation opens, closes, was sent) read
like the pages around them. Exports, the command line and the audit trail keep ISO 8601."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_time, get_datetime_format
from flask_babel import format_date, get_locale

from survey.settings import settings


def day_text(day: date | None) -> str:
    """A calendar date as the reader's language writes it (Flask-Babel's `format_date`,
    "medium"): 16 Mar 2027 in English, 16 mar 2027 in Spanish. Pages only: exports, the
    command line and the audit trail keep ISO 8601."""
    return format_date(day, "medium") if day else ""


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
    locale = get_locale() or Locale.parse(settings().default_language)
    clock = format_time(local.time(), "short", locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale)).replace("'", "")
    text = pattern.replace("{1}", day_text(local.date())).replace("{0}", clock)
    return f"{text} {local.tzname()}" if with_zone else text


def utc_datetime(moment: datetime | None) -> str:
    """A moment in UTC, written the reader's way, without the zone: for staff pages whose
    text already says "UTC"."""
    return local_datetime(moment, "UTC", with_zone=False)
