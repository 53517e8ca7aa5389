"""The Twilio backend, through the official SDK.

What a failed send means decides what happens next, so errors are sorted with care (the codes
are in `twilio_codes`):
- the request certainly never reached Twilio (no connection, DNS, connect timeout) → retry;
- Twilio answered 429 or 5xx, or a transient code (the sender's queue is full, ...) → retry;
- Twilio refused the account or the sender (credentials, an invalid From number, a sender that
  cannot send SMS, ...) → channel: the site's sending pauses, the message waits;
- Twilio answered another 4xx (invalid number, opted out, not a mobile, ...) → failed;
- the request went out and no answer came (read timeout, connection lost) → unknown: Twilio
  may have sent it, so it is never sent again without a person deciding.
"""

import json
import logging

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, SSLError

from survey.models import MessageStatus
from survey.outreach.backends.interface import (
    MAX_CONCURRENT_SENDS,
    Outcome,
    OutgoingSms,
    SendResult,
)
from survey.outreach.backends.twilio_codes import ACCOUNT, OPTED_OUT, TRANSIENT, status_of

logger = logging.getLogger("survey.outreach.twilio")
TWILIO_API = "https://api.twilio.com"
# Twilio documents ValidityPeriod as 1 to 14,400 seconds for SMS (error 21624; newer pages say
# 36,000): stay within both.
MAX_VALIDITY = 14_400


class ApiUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, pointed at SURVEY_TWILIO_API_URL and with a (connect, read)
    timeout, so a Twilio-compatible endpoint or a local test server can stand in."""

    def __init__(self, api_url: str, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(pool_connections=True)
        # One kept-alive connection per concurrent send (the SDK keeps os.cpu_count() + 4 for
        # https, and requests 10 for http): beyond the pool, each send would open a new one.
        for scheme in ("https://", "http://"):
            self.session.mount(scheme, HTTPAdapter(pool_maxsize=MAX_CONCURRENT_SENDS))
        self.api_url = api_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.api_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioBackend:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str | None,
        from_number: str | None,
        api_url: str = TWILIO_API,
        connect_timeout: float = 5,
        read_timeout: float = 20,
        whatsapp_from: str | None = None,
        whatsapp_content_sid: str | None = None,
    ) -> None:
        self.whatsapp_from = whatsapp_from
        self.whatsapp_content_sid = whatsapp_content_sid
        self.sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self.client = Client(
            account_sid,
            auth_token,
            http_client=ApiUrlHttpClient(api_url, connect_timeout, read_timeout),
        )

    def send(self, sms: OutgoingSms) -> SendResult:
        to = sms.to
        if sms.channel == "whatsapp":
            if not self.whatsapp_from:
                logger.error("A WhatsApp message, but SURVEY_TWILIO_WHATSAPP_FROM is not set.")
                return SendResult(Outcome.CHANNEL, reason="whatsapp_not_configured")
            # The same SDK and Messages API, with whatsapp: addresses. Outside the 24-hour
            # window WhatsApp only delivers approved templates, hence the Content SID.
            to = f"whatsapp:{sms.to}"
            options = {"from_": f"whatsapp:{self.whatsapp_from}"}
            if self.whatsapp_content_sid:
                options["content_sid"] = self.whatsapp_content_sid
                options["content_variables"] = json.dumps(sms.variables or {})
            else:
                options["body"] = sms.body
        else:
            options = {**self.sender, "body": sms.body}
        if sms.status_callback:
            options["status_callback"] = sms.status_callback
        if sms.validity_seconds:
            options["validity_period"] = max(1, min(sms.validity_seconds, MAX_VALIDITY))
        try:
            sent = self.client.messages.create(to=to, **options)
        except (TwilioRestException, TwilioServiceException) as error:
            return refused(error.status, error.code)
        except requests.exceptions.RequestException as error:
            if never_sent(error):
                return SendResult(Outcome.RETRY, reason="no_connection")
            return SendResult(
                Outcome.UNKNOWN,
                reason="no_answer"
                if isinstance(error, requests.exceptions.ReadTimeout)
                else "connection_lost",
            )
        except TwilioException:
            return SendResult(Outcome.UNKNOWN, reason="unexpected_answer")
        return SendResult(
            Outcome.ACCEPTED,
            provider_sid=sent.sid,
            provider_status=sent.status,
            segments=provider_integer(sent.num_segments),
            status=status_of(sent.status) or MessageStatus.QUEUED,
        )


def refused(status: int, code: int | None) -> SendResult:
    """What an error answer from Twilio means for the message."""
    code = code if isinstance(code, int) else None
    if status == 429 or code == 20429:
        return SendResult(Outcome.RETRY, error_code=code, reason="rate_limited")
    if status >= 500 or code in TRANSIENT:
        reason = "sender_queue_full" if code == 21611 else "provider_error"
        return SendResult(Outcome.RETRY, error_code=code, reason=reason)
    if status in (401, 403) or code in (20003, 20005, 20008):
        logger.error("Twilio refused the account credentials (HTTP %s, code %s)", status, code)
        return SendResult(Outcome.CHANNEL, error_code=code, reason="credentials")
    if code in ACCOUNT:
        logger.error("Twilio refused the account or sender (HTTP %s, code %s)", status, code)
        return SendResult(Outcome.CHANNEL, error_code=code, reason="sender_refused")
    if code in OPTED_OUT:
        return SendResult(Outcome.FAILED, error_code=code, reason="opted_out")
    return SendResult(Outcome.FAILED, error_code=code, reason="refused")


def never_sent(error: requests.exceptions.RequestException) -> bool:
    """Whether the request certainly never reached the server."""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    if isinstance(
        error,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        # Connecting, resolving and the TLS handshake all happen before the request is written.
        return isinstance(cause, NewConnectionError | ConnectTimeoutError | SSLError)
    return False


def provider_integer(value) -> int | None:
    """A number in Twilio's own data (an error code, a segment count, our message id echoed
    in a callback's query), or None when it is absent or not a number. The one reader of
    those: they come from Twilio, over a signed request or its API's answer, not typed by a
    person (a typed number is read by survey.querystring.parse_whole_number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
