"""Response headers: a strict Content-Security-Policy, no framing, no referrer, no caching of
pages that may show health data, HSTS over HTTPS, and hardened session cookies.

flask-talisman writes most of them. It sets Referrer-Policy and X-Frame-Options after the
blueprints' own hooks, so the whole service uses the patient pages' strictest values
(`no-referrer`, `DENY`) rather than letting a global default weaken them."""

from flask import Flask, Response, request
from flask_talisman import Talisman

from survey.settings import settings

# No inline script or style anywhere: scripts and stylesheets are files under /static.
# Inline SVG charts use presentation attributes (fill=, stroke=), which CSP does not govern.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",  # the autosave script posts answers to its own page
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {
    "browsing-topics": "()",
    "camera": "()",
    "geolocation": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
}
EXTRA_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    Talisman(
        app,
        content_security_policy=CONTENT_SECURITY_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
        frame_options="DENY",
        referrer_policy="no-referrer",
        # HTTPS is the reverse proxy's job (docs/deployment.md); a redirect here would also
        # break plain-HTTP health checks from the load balancer.
        force_https=False,
        # Only when the request arrived over HTTPS (behind a proxy: with SURVEY_PROXY_COUNT).
        strict_transport_security=True,
        strict_transport_security_max_age=settings(app).hsts_seconds,
        strict_transport_security_include_subdomains=False,
        # The settings decide: SESSION_COOKIE_SECURE follows an https PUBLIC_URL, so the
        # plain-http demo keeps working.
        session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
        session_cookie_http_only=True,
        session_cookie_samesite=settings(app).session_cookie_samesite,
    )
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    """Headers flask-talisman does not write: cross-origin isolation, and no caching of any
    page (staff pages show health data as much as patient pages do); static files excepted."""
    response.headers.update(EXTRA_HEADERS)
    endpoint = request.endpoint or ""
    if endpoint != "static" and not endpoint.endswith(".static"):
        response.headers["Cache-Control"] = "no-store"
    return response
