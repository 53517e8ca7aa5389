"""SMS backends behind one small interface: `send(OutgoingSms) -> SendResult`.

A backend never raises for a failed send: it says what happened, in one of five outcomes that
the dispatcher knows how to record. What the provider's own error codes and statuses mean is
the backend's business: the dispatcher only hears the outcome, our status and a reason word.
A backend may be called
from up to `MAX_CONCURRENT_SENDS` threads at once (SURVEY_SMS_DISPATCH_CONCURRENCY).
"""

from pathlib import Path

# config_text is survey.config's (domain code reads Twilio settings too); imported from here too.
from survey.config import ConfigurationError, config_text  # noqa: F401

# The interface is in interface.py (the backends import it from there); callers import it from here.
from survey.outreach.backends.interface import (  # noqa: F401
    MAX_CONCURRENT_SENDS,
    Outcome,
    OutgoingSms,
    SendResult,
    SmsBackend,
)


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
