"""The session cookie is written by pages only, never by static files.

A browser fetches the stylesheet, the scripts and the icon while the page that put a fresh
CSRF token in the session is still arriving. With permanent sessions Flask re-sends the cookie
on every response to slide its expiry, so a static response, built from the cookie as it was
before the page, could land last and put back a session without that token: every answer
posted from the page was then refused as "page expired"."""

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


class PageSessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app: Flask, session) -> bool:
        if request.endpoint == "static" and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessionInterface()
