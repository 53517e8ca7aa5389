"""Twilio Lookup's line type, for the numbers `phonenumbers` cannot place (SURVEY_TWILIO_LOOKUP).

Some numbering plans (+1: the United States, Canada and the Caribbean) give landlines and
mobiles the same ranges, so survey.phones cannot refuse a landline there. With
SURVEY_TWILIO_LOOKUP=1 such a number, and only such a number (a lookup costs money and tells
Twilio the number), is looked up with Twilio Lookup v2's `line_type_intelligence`, through the
official SDK and the SMS backend's account settings (SURVEY_TWILIO_ACCOUNT_SID and _AUTH_TOKEN).

A lookup that fails (no connection, a timeout, credentials refused, a 404, an answer without a
type) never blocks enrolment: the number is accepted, as it would be with Lookup off, and a
warning is logged. Lookup is a refinement; a patient is not kept from follow-up because Twilio
could not be asked, and a landline that slips through is still found when its first text fails.

Within one request (or one command) a number is looked up once: the enrolment form's check and
the enrolment it leads to share the answer.
"""

import logging

import requests
from flask import current_app, g, has_app_context
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from survey.settings import settings_of

logger = logging.getLogger("survey.line_types")
LOOKUP_API = "https://lookups.twilio.com"
MOBILE = "mobile"
# Twilio's types for service numbers (the rest but mobile are landlines or not mobiles).
SERVICE = frozenset({"tollFree", "premium", "sharedCost", "uan"})


class LookupUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, pointed at SURVEY_TWILIO_LOOKUP_URL with a (connect, read)
    timeout, so a Twilio-compatible endpoint or a local test server can stand in."""

    def __init__(self, lookup_url: str, connect_timeout: float, read_timeout: float) -> None:
        super().__init__()
        self.lookup_url = lookup_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)

    def request(self, method, url, *args, **kwargs):
        if url.startswith(LOOKUP_API):
            url = self.lookup_url + url[len(LOOKUP_API) :]
        return super().request(method, url, *args, **kwargs)


def enabled(config) -> bool:
    """Whether SURVEY_TWILIO_LOOKUP is on (1, true, yes or on)."""
    return settings_of(config).twilio_lookup


def line_type(e164: str) -> str | None:
    """Twilio's line type of the number ("mobile", "landline", "tollFree", "fixedVoip", ...),
    or None when Lookup is off or could not tell (a warning says why)."""
    if not has_app_context() or not enabled(current_app.config):
        return None
    known = g.setdefault("twilio_line_types", {})
    if e164 not in known:
        known[e164] = look_up(current_app.config, e164)
    return known[e164]


def look_up(config, e164: str) -> str | None:
    """Ask Twilio Lookup v2; None (logged) when it cannot answer."""
    found = settings_of(config)
    account_sid, auth_token = found.twilio_account_sid, found.twilio_auth_token
    # Logs name the country code only: a phone number is a patient's personal data.
    country = e164[:2] if e164.startswith("+1") else e164[:3]
    if not (account_sid and auth_token):
        logger.warning(
            "SURVEY_TWILIO_LOOKUP is on but SURVEY_TWILIO_ACCOUNT_SID or SURVEY_TWILIO_AUTH_TOKEN "
            "is not set: a %s number was accepted without a line-type check",
            country,
        )
        return None
    client = Client(
        account_sid,
        auth_token,
        http_client=LookupUrlHttpClient(
            found.twilio_lookup_url or LOOKUP_API,
            found.twilio_connect_timeout,
            found.twilio_read_timeout,
        ),
    )
    try:
        found = client.lookups.v2.phone_numbers(e164).fetch(fields="line_type_intelligence")
    except TwilioRestException as error:
        logger.warning(
            "Twilio Lookup refused (HTTP %s, code %s): a %s number was accepted without a "
            "line-type check",
            error.status,
            error.code,
            country,
        )
        return None
    except (TwilioException, requests.exceptions.RequestException) as error:
        logger.warning(
            "Twilio Lookup could not be reached (%s): a %s number was accepted without a "
            "line-type check",
            type(error).__name__,
            country,
        )
        return None
    kind = (found.line_type_intelligence or {}).get("type")
    if not kind or kind == "unknown":
        logger.warning(
            "Twilio Lookup did not know the line type: a %s number was accepted without a "
            "line-type check",
            country,
        )
        return None
    return kind
