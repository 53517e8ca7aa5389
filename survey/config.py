"""Settings: defaults, then `SURVEY_*` environment variables, then the caller's mapping.

`SURVEY_ENV` is `development` or `production`. Left unset it is `development` only while
no `SURVEY_DATABASE_URL` is given (the embedded SQLite demo): once a real database is
configured the service is being deployed, and a missing secret key must stop it.
"""

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"

DEFAULTS = {
    "PUBLIC_URL": "http://127.0.0.1:5000",
    # Interface languages are found, not listed: English and every complete catalog
    # (survey/domain/languages.py). A comma-separated list here can only narrow them.
    "LANGUAGES": None,
    # A clinic's own catalogs (<dir>/<code>/LC_MESSAGES/messages.po and .mo), ';'-separated,
    # read after the shipped ones: docs/translations.md.
    "TRANSLATION_DIRECTORIES": "",
    "DEFAULT_LANGUAGE": "en",
    "SESSION_IDLE_MINUTES": 30,
    # A page re-signs an unchanged session cookie once its stamp is this old, not on every
    # response (survey/security/session_cookie.py): the idle limit counts from up to this
    # long before the last page.
    "SESSION_REFRESH_SECONDS": 60,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # No pool_pre_ping: it costs a round trip (SQLAlchemy's empty `;` query on psycopg) at
    # every checkout. survey/connection_health.py finds dead pooled connections at checkout
    # without a round trip (tests/security/test_database_restart.py); setting pool_pre_ping
    # here turns that check off and the pre-ping on.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
    "WTF_CSRF_TIME_LIMIT": None,  # the session's own idle limit bounds a form's lifetime
    # Flask-WTF's HTTPS check wants a same-origin Referer on every post, but every page says
    # Referrer-Policy: no-referrer, so browsers send none (and Origin: null): behind a TLS
    # proxy it refused every form. The session-bound CSRF token and SameSite cookies remain.
    "WTF_CSRF_SSL_STRICT": False,
    "PROXY_COUNT": 0,  # reverse proxies in front of the app whose X-Forwarded-* to trust
    "LOG_FORMAT": "text",  # or json, one object per line
    "LOG_LEVEL": "INFO",
    # Outreach (docs/outreach.md): SMS backend, quiet hours and limits in the patient's zone.
    "SMS_BACKEND": "console",  # console (development) or twilio
    "SMS_SEND_FROM": "09:00",  # no message before this local time...
    "SMS_SEND_UNTIL": "20:00",  # ...nor at or after this one
    "SMS_MAX_PER_DAY": 1,  # per patient, per local calendar day
    "SMS_MAX_PER_WEEK": 3,  # per patient, in the seven local days ending today
    "SMS_MAX_ATTEMPTS": 6,  # transient errors are retried until this many attempts
    "SMS_RETRY_BASE_SECONDS": 60,  # first retry after about this long, then doubling...
    "SMS_RETRY_MAX_SECONDS": 3600,  # ...up to this
    "SMS_SENDING_GRACE_MINUTES": 10,  # a send unfinished after this long needs review
    # Messages one dispatcher sends at once (1-10, PostgreSQL; SQLite always sends one at a
    # time). Each holds a database connection, and a dispatcher killed mid-pass leaves up to
    # this many sends of unknown outcome for review.
    "SMS_DISPATCH_CONCURRENCY": 1,
    "SMS_DEV_OUTBOX": None,  # console backend's outbox file; default instance/dev_outbox.jsonl
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_MESSAGING_SERVICE_SID": None,  # either this...
    "TWILIO_FROM": None,  # ...or a sender number in E.164
    "TWILIO_API_URL": "https://api.twilio.com",
    "TWILIO_CONNECT_TIMEOUT": 5,
    "TWILIO_READ_TIMEOUT": 20,
    # WhatsApp, for patients whose channel is whatsapp: the sender number (E.164, enabled for
    # WhatsApp at Twilio) and the approved template (Content SID, HX...) that business-initiated
    # messages need; its variables are {{1}} the clinic's name in texts and {{2}} the link.
    "TWILIO_WHATSAPP_FROM": None,
    "TWILIO_WHATSAPP_CONTENT_SID": None,
    # Twilio Lookup's line type for the numbers phonenumbers cannot place as mobile or
    # landline (+1): off by default, since it costs per lookup and tells Twilio the number
    # (survey/line_types.py, docs/outreach.md). Same account settings as the SMS backend.
    "TWILIO_LOOKUP": False,
    "TWILIO_LOOKUP_URL": "https://lookups.twilio.com",
    "TWILIO_WEBHOOK_SIGNING_KEY": None,  # a Webhooks SharedKey secret, if one signs webhooks
    # Clinic results and exports (docs/clinicians.md, docs/exports.md).
    "CCIS_MEANINGFUL_CHANGE": 3,  # points from baseline that raise a CCIS change flag
    "OVERDUE_GRACE_DAYS": 7,  # days after a timepoint opens before it counts as overdue
    "CLINIC_PAGE_SIZE": 50,  # patients per page of the list
    "AUDIT_PAGE_SIZE": 100,  # events per page of the audit log
    "FHIR_BASE_URL": "https://survey.invalid/fhir",  # base of the local FHIR code systems
    # SPSS and Stata files are built in memory (about 5 KB per timepoint at the peak): at most
    # this many timepoints in one file, about 100 MB.
    "EXPORT_STATS_MAX_ROWS": 20_000,
    # Security (docs/security.md): rate limits, headers, staff second factor.
    "RATELIMIT_ENABLED": True,
    # The service's own database, shared by every worker and node; or redis://host:6379/0.
    # memory:// counts per process: one worker only (gunicorn.conf.py refuses more).
    "RATELIMIT_STORAGE_URI": "database://",
    "RATELIMIT_STRATEGY": "moving-window",
    "RATELIMIT_LINK_GUESSES": "10 per minute; 60 per hour",  # unknown tokens, per address
    "RATELIMIT_LOGIN_ADDRESS": "30 per 10 minutes",  # failed sign-ins and codes, per address
    "RATELIMIT_LOGIN_ACCOUNT": "10 per 15 minutes",  # failed sign-ins, per email address typed
    "RATELIMIT_CODE_ACCOUNT": "5 per 5 minutes",  # wrong codes or current passwords, per user
    "RATELIMIT_WEBHOOKS": "600 per minute",  # webhook posts, per address
    "RATELIMIT_WEBHOOK_FAILURES": "30 per minute",  # webhooks with a bad signature, per address
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # no form needs more; larger bodies get 413 unread
    "HSTS_SECONDS": 31536000,  # Strict-Transport-Security max-age, sent on HTTPS requests only
    "TOTP_ISSUER": "Patient follow-up",  # the name authenticator apps show; neutral on purpose
    "TOTP_REQUIRED_ROLES": "",  # e.g. "admin,clinician": these roles must enrol a second factor
    # argon2id parameters of new password hashes (survey/passwords.py): `default`, or
    # `test`, the cheapest, which only a test suite may use (refused in production).
    "PASSWORD_HASH_PROFILE": "default",
    # Floor routes under /_bench for benchmarks/ (benchmarks/floor.py): a test server only,
    # never production, since they write rows and render pages for anyone who asks.
    "BENCHMARK_ROUTES": False,
}


class ConfigurationError(RuntimeError):
    """The settings do not allow the service to start safely."""


def resource_dir(name: str) -> Path:
    """Where `templates` or `translations` live: inside the package when installed from a
    wheel, at the top of the checkout when installed in editable mode."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


def load(app: Flask, overrides: dict | None) -> None:
    """Fill `app.config` and refuse settings that would be unsafe to run with."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("SURVEY")
    # from_prefixed_env reads values as JSON where it can; a key that looks like a number
    # must stay the exact text it was given.
    if raw_key := os.environ.get("SURVEY_SECRET_KEY"):
        app.config["SECRET_KEY"] = raw_key
    if overrides:
        app.config.from_mapping(overrides)

    configured_database = app.config.get("DATABASE_URL")
    app.config.setdefault("ENV", "production" if configured_database else "development")
    if app.config["ENV"] not in ("development", "production"):
        raise ConfigurationError("SURVEY_ENV must be 'development' or 'production'.")

    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app, configured_database)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    )
    app.config["PUBLIC_URL"] = str(app.config["PUBLIC_URL"]).rstrip("/")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=int(app.config["SESSION_IDLE_MINUTES"])
    )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        [str(resource_dir("translations"))]
        + [part for part in str(app.config["TRANSLATION_DIRECTORIES"] or "").split(";") if part]
    )
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["DEFAULT_LANGUAGE"]
    if app.config["PUBLIC_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    profile = app.config["PASSWORD_HASH_PROFILE"]
    if profile not in ("default", "test"):
        raise ConfigurationError("SURVEY_PASSWORD_HASH_PROFILE must be 'default' or 'test'.")
    if profile != "default" and app.config["ENV"] == "production" and not app.testing:
        raise ConfigurationError(
            "SURVEY_PASSWORD_HASH_PROFILE=test is for test suites only: it makes password "
            "hashes cheap to guess. Leave it unset in production."
        )

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] == "production" and not app.testing:
            raise ConfigurationError(
                "SURVEY_SECRET_KEY is not set. Set it to a long random value "
                '(python -c "import secrets; print(secrets.token_hex(32))") before starting.'
            )
        app.config["SECRET_KEY"] = development_secret_key(app)


def config_text(config, key: str) -> str | None:
    """A setting that must stay text. `from_prefixed_env` reads values that look like JSON
    numbers as numbers (a token such as "123e4..." would become a float), so take those from
    the environment as written."""
    value = config.get(key)
    if value is None or isinstance(value, str):
        return value
    return os.environ.get(f"SURVEY_{key}", str(value))


def database_uri(app: Flask, configured: str | None) -> str:
    """The SQLAlchemy URL: the configured one (on psycopg 3), or a file in the instance folder."""
    if not configured:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(app.instance_path) / 'survey.sqlite'}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured[len(prefix) :]
    return configured


# TCP keepalives on PostgreSQL connections: a server that vanished without closing them (a
# host rebooted, a link cut) makes an idle pooled connection's socket report an error within
# about a minute, which the checkout check sees (survey/connection_health.py).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def engine_options(uri: str, configured: Mapping | None) -> dict:
    """The engine options for `uri`: the configured ones, with TCP keepalives on PostgreSQL
    (a new dict: the defaults are shared by every app)."""
    if configured is not None and not isinstance(configured, Mapping):
        raise ConfigurationError("SURVEY_SQLALCHEMY_ENGINE_OPTIONS must be a mapping.")
    options = dict(configured or {})
    if uri.startswith("postgresql"):
        options["connect_args"] = {**KEEPALIVES, **options.get("connect_args", {})}
    return options


def development_secret_key(app: Flask) -> str:
    """A random key kept in the instance folder, so demo sessions survive a restart."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
