"""Settings: defaults, then `SURVEY_*` environment variables, then the caller's mapping.

`SURVEY_ENV` is `development` or `production`. Left unset it is `development` only while
no `SURVEY_DATABASE_URL` is given (the embedded SQLite demo): once a real database is
configured the service is being deployed, and a missing secret key must stop it.
"""

import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"

DEFAULTS = {
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "LANGUAGES": ("en", "es", "tr"),
    "DEFAULT_LANGUAGE": "en",
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,  # the session's own idle limit bounds a form's lifetime
    "PROXY_COUNT": 0,  # reverse proxies in front of the app whose X-Forwarded-* to trust
    "LOG_FORMAT": "text",  # or json, one object per line
    "LOG_LEVEL": "INFO",
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
    if overrides:
        app.config.from_mapping(overrides)

    configured_database = app.config.get("DATABASE_URL")
    app.config.setdefault("ENV", "production" if configured_database else "development")
    if app.config["ENV"] not in ("development", "production"):
        raise ConfigurationError("SURVEY_ENV must be 'development' or 'production'.")

    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app, configured_database)
    app.config["PUBLIC_URL"] = str(app.config["PUBLIC_URL"]).rstrip("/")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=int(app.config["SESSION_IDLE_MINUTES"])
    )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(resource_dir("translations"))
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["DEFAULT_LANGUAGE"]
    if app.config["PUBLIC_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] == "production" and not app.testing:
            raise ConfigurationError(
                "SURVEY_SECRET_KEY is not set. Set it to a long random value "
                '(python -c "import secrets; print(secrets.token_hex(32))") before starting.'
            )
        app.config["SECRET_KEY"] = development_secret_key(app)


def database_uri(app: Flask, configured: str | None) -> str:
    """The SQLAlchemy URL: the configured one (on psycopg 3), or a file in the instance folder."""
    if not configured:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(app.instance_path) / 'survey.sqlite'}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured[len(prefix) :]
    return configured


def development_secret_key(app: Flask) -> str:
    """A random key kept in the instance folder, so demo sessions survive a restart."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
