"""SMS backends behind one small interface: `send(OutgoingSms) -> SendResult`.

A backend never raises for a failed send: it says what happened, in one of five outcomes that
the dispatcher knows how to record. What the provider's own error codes and statuses mean is
the backend's business: the dispatcher only hears the outcome, our status and a reason word.
A backend may be called
from up to `MAX_CONCURRENT_SENDS` threads at once (SURVEY_SMS_DISPATCH_CONCURRENCY).
"""

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from survey.config import ConfigurationError
from survey.models import MessageStatus

# Each concurrent send also holds a database connection: stay within SQLAlchemy's default pool
# (5 + 10 overflow), with one left for the pass's own session.
MAX_CONCURRENT_SENDS = 10


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took it
    RETRY = "retry"  # it certainly did not go (or the provider asked us to come back later)
    FAILED = "failed"  # the provider refused it for good
    UNKNOWN = "unknown"  # it may or may not have gone: a person must decide
    # The account or sender was refused: every message would fail the same way. This one
    # did not go; the site's channel pauses until an administrator resumes it.
    CHANNEL = "channel"


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send. `body` holds a working link: keep it in memory, never store or log it."""

    message_id: int
    site_id: int
    to: str
    body: str
    status_callback: str | None = None
    # Seconds the provider may keep trying: a text that cannot go before quiet hours start
    # expires instead of arriving in the night.
    validity_seconds: int | None = None
    channel: str = "sms"  # or "whatsapp"
    # A WhatsApp template's variables ({"1": clinic, "2": link}): in memory only, as the body.
    variables: dict[str, str] | None = None

    def __repr__(self) -> str:  # never shows the body, whatever prints it
        return f"<OutgoingSms message={self.message_id} to=…{self.to[-3:]}>"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_sid: str | None = None
    provider_status: str | None = None
    segments: int | None = None
    error_code: int | None = None
    reason: str | None = None  # "opted_out": the number unsubscribed at the provider
    status: MessageStatus | None = None  # the provider's status, in our words


class SmsBackend(Protocol):
    name: str

    def send(self, sms: OutgoingSms) -> SendResult: ...


def config_text(config, key: str) -> str | None:
    """A setting that must stay text. `from_prefixed_env` reads values that look like JSON
    numbers as numbers (a token such as "123e4..." would become a float), so take those from
    the environment as written."""
    value = config.get(key)
    if value is None or isinstance(value, str):
        return value
    return os.environ.get(f"SURVEY_{key}", str(value))


def backend_from_config(config, instance_path: str) -> SmsBackend:
    """The backend SURVEY_SMS_BACKEND names, set up from the other settings."""
    name = config_text(config, "SMS_BACKEND") or "console"
    if name == "console":
        from survey.outreach.backends.console import ConsoleBackend

        return ConsoleBackend(outbox_path(config, instance_path))
    if name == "twilio":
        from survey.outreach.backends.twilio import TwilioBackend

        missing = [
            f"SURVEY_{key}"
            for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
            if not config_text(config, key)
        ]
        sender = config_text(config, "TWILIO_MESSAGING_SERVICE_SID") or config_text(
            config, "TWILIO_FROM"
        )
        if not sender:
            missing.append("SURVEY_TWILIO_MESSAGING_SERVICE_SID or SURVEY_TWILIO_FROM")
        if missing:
            raise ConfigurationError(f"SMS_BACKEND is twilio but {', '.join(missing)} is not set.")
        api_url = config_text(config, "TWILIO_API_URL") or "https://api.twilio.com"
        if not api_url.startswith(("https://", "http://")):
            raise ConfigurationError("SURVEY_TWILIO_API_URL must start with https://.")
        return TwilioBackend(
            account_sid=config_text(config, "TWILIO_ACCOUNT_SID"),
            auth_token=config_text(config, "TWILIO_AUTH_TOKEN"),
            messaging_service_sid=config_text(config, "TWILIO_MESSAGING_SERVICE_SID"),
            from_number=config_text(config, "TWILIO_FROM"),
            whatsapp_from=config_text(config, "TWILIO_WHATSAPP_FROM"),
            whatsapp_content_sid=config_text(config, "TWILIO_WHATSAPP_CONTENT_SID"),
            api_url=api_url,
            connect_timeout=float(config["TWILIO_CONNECT_TIMEOUT"]),
            read_timeout=float(config["TWILIO_READ_TIMEOUT"]),
        )
    raise ConfigurationError(f"SURVEY_SMS_BACKEND must be console or twilio, not {name[:20]!r}.")


def outbox_path(config, instance_path: str) -> Path:
    """Where the console backend keeps the development outbox."""
    configured = config.get("SMS_DEV_OUTBOX")
    return Path(configured) if configured else Path(instance_path) / "dev_outbox.jsonl"


def dev_outbox_enabled(config, testing: bool = False) -> bool:
    """The outbox keeps working links in a file, so it exists only for development."""
    return (config_text(config, "SMS_BACKEND") or "console") == "console" and (
        config.get("ENV") == "development" or testing
    )
