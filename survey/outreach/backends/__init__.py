"""SMS backends behind one small interface: `send(OutgoingSms) -> SendResult`.

A backend never raises for a failed send: it says what happened, in one of five outcomes that
the dispatcher knows how to record. What the provider's own error codes and statuses mean is
the backend's business: the dispatcher only hears the outcome, our status and a reason word.
A backend may be called
from up to `MAX_CONCURRENT_SENDS` threads at once (SURVEY_SMS_DISPATCH_CONCURRENCY).
"""

from pathlib import Path

from survey.config import ConfigurationError

# The interface is in interface.py (the backends import it from there); callers import it from here.
from survey.outreach.backends.interface import (  # noqa: F401
    MAX_CONCURRENT_SENDS,
    Outcome,
    OutgoingSms,
    SendResult,
    SmsBackend,
)
from survey.settings import settings_of


def backend_from_config(config, instance_path: str) -> SmsBackend:
    """The backend SURVEY_SMS_BACKEND names, set up from the other settings."""
    found = settings_of(config)
    name = found.sms_backend or "console"
    if name == "console":
        from survey.outreach.backends.console import ConsoleBackend

        return ConsoleBackend(outbox_path(config, instance_path))
    if name == "twilio":
        from survey.outreach.backends.twilio import TwilioBackend

        missing = [
            f"SURVEY_{key.upper()}"
            for key in ("twilio_account_sid", "twilio_auth_token")
            if not getattr(found, key)
        ]
        sender = found.twilio_messaging_service_sid or found.twilio_from
        if not sender:
            missing.append("SURVEY_TWILIO_MESSAGING_SERVICE_SID or SURVEY_TWILIO_FROM")
        if missing:
            raise ConfigurationError(f"SMS_BACKEND is twilio but {', '.join(missing)} is not set.")
        api_url = found.twilio_api_url or "https://api.twilio.com"
        if not api_url.startswith(("https://", "http://")):
            raise ConfigurationError("SURVEY_TWILIO_API_URL must start with https://.")
        return TwilioBackend(
            account_sid=found.twilio_account_sid,
            auth_token=found.twilio_auth_token,
            messaging_service_sid=found.twilio_messaging_service_sid,
            from_number=found.twilio_from,
            whatsapp_from=found.twilio_whatsapp_from,
            whatsapp_content_sid=found.twilio_whatsapp_content_sid,
            api_url=api_url,
            connect_timeout=found.twilio_connect_timeout,
            read_timeout=found.twilio_read_timeout,
        )
    raise ConfigurationError(f"SURVEY_SMS_BACKEND must be console or twilio, not {name[:20]!r}.")


def outbox_path(config, instance_path: str) -> Path:
    """Where the console backend keeps the development outbox."""
    configured = settings_of(config).sms_dev_outbox
    return Path(configured) if configured else Path(instance_path) / "dev_outbox.jsonl"


def dev_outbox_enabled(config, testing: bool = False) -> bool:
    """The outbox keeps working links in a file, so it exists only for development."""
    found = settings_of(config)
    return (found.sms_backend or "console") == "console" and (found.env == "development" or testing)
