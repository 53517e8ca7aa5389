"""Security controls that wrap the whole application: response headers, refusal of posts
from other sites, and rate limits.

Called from `create_app` after the blueprints are registered, so that limits can be put on
views and blueprints that other packages define (docs/security.md lists every control)."""

from flask import Flask

from survey.security import fetch_metadata, headers, limits, session_cookie


def init_app(app: Flask) -> None:
    session_cookie.init_app(app)
    headers.init_app(app)
    fetch_metadata.init_app(app)
    limits.init_app(app)
