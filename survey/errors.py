"""Error pages: calm, translated, and never a stack trace."""

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from survey.extensions import db

MESSAGES = {
    400: (_l("Something was wrong with that request"), _l("Please go back and try again.")),
    403: (_l("Not allowed"), _l("You do not have permission to see this page.")),
    404: (
        _l("Page not found"),
        _l("There is nothing at this address. Check the link and try again."),
    ),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    413: (_l("Too much data"), _l("What was sent is too large. Please go back and try again.")),
    429: (
        _l("Too many attempts"),
        _l("Please wait a minute, then try again."),
    ),
    503: (
        _l("The service is busy"),
        _l("Nothing you entered has been lost. Please try again in a few minutes."),
    ),
}
CSRF_MESSAGE = (
    _l("This form has expired"),
    _l("For your security, forms expire. Please go back, reload the page and try again."),
)


def render_error(status: int, title, message):
    return render_template("error.html", title=title, message=message, status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        title, message = MESSAGES.get(error.code, (error.name, error.description))
        return render_error(error.code or 500, title, message)

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        db.session.rollback()
        app.logger.error("database unavailable: %s", error.orig.__class__.__name__)
        return render_error(503, *MESSAGES[503])

    @app.errorhandler(DataError)
    def refused_by_database(error):
        """A value the database cannot hold (a NUL character, a number out of range) that
        got past a view's checks: the request was bad, not the server."""
        db.session.rollback()
        app.logger.warning("database refused a value: %s", error.orig.__class__.__name__)
        return render_error(400, *MESSAGES[400])

    @app.errorhandler(500)
    def internal_error(error):
        db.session.rollback()
        return render_error(
            500,
            _l("Something went wrong on our side"),
            _l("Please try again in a few minutes."),
        )
