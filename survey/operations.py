"""Running in production: health check, reverse proxies, and logs that hold no secrets."""

import json
import logging
import re

from flask import Blueprint, Flask, jsonify, redirect, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from survey.extensions import db
from survey.settings import settings

bp = Blueprint("operations", __name__)

# A patient link's token is a password, and so is a clinic tablet's code (/t/<code>, from its
# QR code) and the token of a staff member's one-time link to set their password: none must
# ever reach a log line.
PRIVATE_LINK = re.compile(r"/([st])/[^/?#\s\"]+")
PASSWORD_LINK = re.compile(r"/account/set-password/[^/?#\s\"]+")


def redact(text_: str) -> str:
    """The text with every private-link token, tablet code and set-password token replaced."""
    text_ = PRIVATE_LINK.sub(r"/\1/[redacted]", text_)
    return PASSWORD_LINK.sub("/account/set-password/[redacted]", text_)


@bp.get("/favicon.ico")
def favicon():
    """For browsers that ignore the pages' <link rel="icon">: never a 404 in the logs."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/healthz")
def health():
    """For load balancers and monitors: 200 when the database answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


class RedactingFilter(logging.Filter):
    """Rewrites any log record that mentions a private link (werkzeug's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/s/" in message or "/t/" in message:
            record.msg, record.args = redact(message), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """The loggers are the process's, not the app's: each app made in one process (a test
    run makes many) leaves them as its own settings say, never as an earlier app left them."""
    redacting = RedactingFilter()
    for name in ("werkzeug", "gunicorn.access", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(redacting)
    ours = [h for h in app.logger.handlers if isinstance(h.formatter, JsonFormatter)]
    for handler in ours:
        app.logger.removeHandler(handler)
    app.logger.propagate = True
    if settings(app).log_format == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(redacting)
        app.logger.handlers[:] = [handler]
        # JSON lines on stderr only: not again through the root logger.
        app.logger.propagate = False
    app.logger.setLevel(settings(app).log_level)


def init_app(app: Flask) -> None:
    if proxies := settings(app).proxy_count:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
    configure_logging(app)
    app.register_blueprint(bp)
