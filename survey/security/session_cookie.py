"""The session cookie is written when its content changes, and otherwise re-signed at most once
a minute by pages the browser's own user asked for, never by static files.

A browser fetches the stylesheet, the scripts and the icon while the page that put a fresh
CSRF token in the session is still arriving. With permanent sessions Flask re-sends the cookie
on every response to slide its expiry, so a static response, built from the cookie as it was
before the page, could land last and put back a session without that token: every answer
posted from the page was then refused as "page expired".

Sliding the idle limit does not need a new signature on every page either: signing and
sending the cookie cost about a tenth of a patient page's CPU. The cookie's signed timestamp
is what the limit counts from (Flask refuses a cookie signed longer ago than
PERMANENT_SESSION_LIFETIME), so a page re-signs an unchanged session only once that stamp is
SESSION_REFRESH_SECONDS old. The idle limit therefore counts from a moment up to that
interval before the last page: a session ends between limit - interval and limit after its
last page, never later. Requests the browser says another site started (Fetch Metadata's
cross-site or same-site) and speculative prefetches do not slide it at all: they are not the
patient (or staff member) using the service."""

import time
from datetime import datetime, timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from survey.security.fetch_metadata import FOREIGN
from survey.settings import settings


class SignedSession(SecureCookieSession):
    """A cookie session that knows when its cookie was signed (None for a new session)."""

    signed_at: datetime | None = None


class PageSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def open_session(self, app: Flask, request) -> SignedSession | None:
        # Flask's own open_session, keeping the stamp that loads() checks the limit against.
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        return slides_idle_limit() and stamp_is_stale(app, session.signed_at)


def slides_idle_limit() -> bool:
    """Whether this request is the browser's user at work: not a static file fetched beside a
    page, not a request another site started, not a prefetch the user may never look at."""
    if request.endpoint == "static":
        return False
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() in FOREIGN:
        return False
    purpose = request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or ""
    return "prefetch" not in purpose.lower()


def refresh_interval(app: Flask) -> timedelta:
    """How old a cookie's stamp may grow before a page re-signs it: the configured interval,
    but never more than half the idle limit (SESSION_IDLE_MINUTES may be as low as 1)."""
    interval = timedelta(seconds=settings(app).session_refresh_seconds)
    return min(interval, app.permanent_session_lifetime / 2)


def stamp_is_stale(app: Flask, signed_at: datetime | None) -> bool:
    if signed_at is None:
        return True
    # time.time(), as itsdangerous stamps and checks the cookie with it.
    age = time.time() - signed_at.timestamp()
    return age >= refresh_interval(app).total_seconds()


def init_app(app: Flask) -> None:
    app.session_interface = PageSessionInterface()
