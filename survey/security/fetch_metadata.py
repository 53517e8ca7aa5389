"""Refuse posts that a browser says come from another site (Fetch Metadata).

Flask-WTF's extra HTTPS check compares the Referer with the host, but every page here sends
`Referrer-Policy: no-referrer` (patient links must never leak), so browsers send no Referer
and the check is off (WTF_CSRF_SSL_STRICT=False). Browsers do send `Sec-Fetch-Site` whatever
the referrer policy: a post marked `cross-site` or `same-site` came from a page that is not
this service's, so it is refused before any view runs, on top of the CSRF token and
SameSite cookies. Requests without the header (older browsers, Twilio's webhooks, scripts)
are left to the token and signature checks as before."""

from flask import Flask, request

from survey.errors import MESSAGES, render_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FOREIGN = frozenset({"cross-site", "same-site"})


def refuse_foreign_posts():
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() in FOREIGN:
        return render_error(403, *MESSAGES[403])
    return None


def init_app(app: Flask) -> None:
    app.before_request(refuse_foreign_posts)
