"""The service's settings as one typed value: `settings()` is a frozen `Settings`, built from
`app.config` (survey/config.py: defaults, then `SURVEY_*` environment variables, then the
caller's mapping) when the app is created, so a bad value stops the service at start rather
than breaking a page later. Code reads `settings().clinic_page_size`, never
`current_app.config["CLINIC_PAGE_SIZE"]`.

A field is named for its setting (`SURVEY_CLINIC_PAGE_SIZE` is `clinic_page_size`) and every
setting in `config.DEFAULTS` has one (tests/test_settings.py). Changing `app.config` on a
running app (tests do) rebuilds the value on its next read.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Config, Flask, current_app

from survey.config import ConfigurationError, config_text


@dataclass(frozen=True)
class Settings:
    public_url: str
    # SURVEY_LANGUAGES narrows the languages found (survey/domain/languages.py), which then
    # replace it: the interface languages, in order.
    languages: tuple[str, ...] | None
    translation_directories: str | None
    default_language: str
    session_idle_minutes: int
    session_refresh_seconds: int
    session_cookie_httponly: bool
    session_cookie_samesite: str | None
    sqlalchemy_engine_options: Mapping
    wtf_csrf_time_limit: int | None
    wtf_csrf_ssl_strict: bool
    proxy_count: int
    log_format: str
    log_level: str
    sms_backend: str | None  # None: console
    sms_send_from: str
    sms_send_until: str
    sms_max_per_day: int
    sms_max_per_week: int
    sms_max_attempts: int
    sms_retry_base_seconds: int
    sms_retry_max_seconds: int
    sms_sending_grace_minutes: int
    sms_dispatch_concurrency: int
    sms_dev_outbox: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_messaging_service_sid: str | None
    twilio_from: str | None
    twilio_api_url: str | None
    twilio_connect_timeout: float
    twilio_read_timeout: float
    twilio_whatsapp_from: str | None
    twilio_whatsapp_content_sid: str | None
    twilio_lookup: bool
    twilio_lookup_url: str | None
    twilio_webhook_signing_key: str | None
    ccis_meaningful_change: int
    overdue_grace_days: int
    clinic_page_size: int
    audit_page_size: int
    fhir_base_url: str
    export_stats_max_rows: int
    ratelimit_enabled: bool
    ratelimit_storage_uri: str | None
    ratelimit_strategy: str
    ratelimit_link_guesses: str
    ratelimit_login_address: str
    ratelimit_login_account: str
    ratelimit_code_account: str
    ratelimit_webhooks: str
    ratelimit_webhook_failures: str
    max_content_length: int | None
    hsts_seconds: int
    totp_issuer: str
    totp_required_roles: frozenset[str]
    password_hash_profile: str
    benchmark_routes: bool
    # Worked out by config.load rather than set directly.
    env: str

    @property
    def production(self) -> bool:
        return self.env == "production"


# Whole-number settings and the least each may be (others: at least 0).
AT_LEAST = {
    "SESSION_IDLE_MINUTES": 1,
    "SMS_MAX_ATTEMPTS": 1,
    "SMS_DISPATCH_CONCURRENCY": 1,
    "CCIS_MEANINGFUL_CHANGE": 1,
    "CLINIC_PAGE_SIZE": 1,
    "AUDIT_PAGE_SIZE": 1,
    "EXPORT_STATS_MAX_ROWS": 1,
}


TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


def _whole(key: str, value: Any) -> int:
    least = AT_LEAST.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"SURVEY_{key} must be a whole number of at least {least}.")
    return value


def _value(config: Mapping, field: dataclasses.Field) -> Any:
    key = field.name.upper()
    value = config.get(key)
    kind = field.type
    if key == "LANGUAGES":
        if value is None or isinstance(value, list | tuple):
            return None if value is None else tuple(str(code) for code in value)
        return tuple(code.strip() for code in str(value).split(",") if code.strip())
    if key == "TOTP_REQUIRED_ROLES":
        return frozenset(role.strip() for role in str(value or "").split(",") if role.strip())
    if kind is bool:
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        if value in (0, 1, None) or isinstance(value, bool):
            return bool(value)
        raise ConfigurationError(f"SURVEY_{key} must be true or false (1, yes, on; 0, no, off).")
    if kind is int:
        return _whole(key, value)
    if kind == int | None:
        return None if value is None else _whole(key, value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigurationError(f"SURVEY_{key} must be a number of seconds above 0.")
        return float(value)
    if kind is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"SURVEY_{key} must be a mapping.")
        return dict(value)
    text = config_text(config, key)
    if text is None and kind is str:
        raise ConfigurationError(f"SURVEY_{key} must be set.")
    return text


def build(config: Mapping) -> Settings:
    """The settings in `config`, checked: a ConfigurationError names the first bad one."""
    values = {field.name: _value(config, field) for field in dataclasses.fields(Settings)}
    if not values["fhir_base_url"].startswith(("https://", "http://")):
        raise ConfigurationError("SURVEY_FHIR_BASE_URL must be an http(s) URL.")
    return Settings(**values)


class SurveyConfig(Config):
    """`app.config` that forgets its `Settings` when a value changes, so that the next read
    builds them again from what is there now."""

    settings: Settings | None = None

    def _changed(self) -> None:
        self.settings = None

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args, **kwargs) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def pop(self, *args):
        self._changed()
        return super().pop(*args)

    def popitem(self):
        self._changed()
        return super().popitem()

    def setdefault(self, key, default=None):
        self._changed()
        return super().setdefault(key, default)


class SurveyFlask(Flask):
    config_class = SurveyConfig


def settings(app: Flask | None = None) -> Settings:
    """The settings of `app` (by default the current one)."""
    return settings_of((app or current_app).config)


def settings_of(config: Mapping) -> Settings:
    """The settings in an app's `config` (built once, until a value changes)."""
    found = getattr(config, "settings", None)
    if found is None:
        found = build(config)
        if isinstance(config, SurveyConfig):
            config.settings = found
    return found


def check(app: Flask) -> Settings:
    """Build the settings once at start: a bad value stops the app here."""
    app.config.settings = None
    return settings(app)
