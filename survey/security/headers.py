"""Response headers: a strict Content-Security-Policy, no framing, no referrer, no caching of
pages that may show health data, HSTS over HTTPS, and hardened session cookies.

Every value is worked out once, when the app starts: flask-talisman, which wrote most of them
before, built the policies again and looked the view's options up three times on every
response (6.5 % of a page's CPU). The headers are the ones it wrote, with the same values
(tests/security/test_headers.py checks them exactly); they are written after the blueprints'
own hooks, so the whole service uses the patient pages' strictest values (`no-referrer`,
`DENY`) rather than letting a global default weaken them."""

from flask import Flask, Response, request

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
EVERY_RESPONSE = {
    "Permissions-Policy": ", ".join(
        f"{name}={value}" for name, value in PERMISSIONS_POLICY.items()
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "; ".join(
        f"{directive} {value}" for directive, value in CONTENT_SECURITY_POLICY.items()
    ),
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    # HTTPS is the reverse proxy's job (docs/deployment.md), so nothing redirects to it here: a
    # redirect would also break plain-HTTP health checks from the load balancer.
    # SESSION_COOKIE_SECURE follows an https PUBLIC_URL (config.load), so the plain-http demo
    # keeps working; scripts never read the cookie, and other sites' requests carry it only as
    # the setting allows.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = settings(app).session_cookie_samesite
    # Only when the request arrived over HTTPS (behind a proxy: with SURVEY_PROXY_COUNT, or as
    # its X-Forwarded-Proto says, as flask-talisman did).
    hsts = f"max-age={settings(app).hsts_seconds}"

    def add_headers(response: Response) -> Response:
        response.headers.update(EVERY_RESPONSE)
        # No caching of any page (staff pages show health data as much as patient pages
        # do); static files excepted.
        endpoint = request.endpoint or ""
        if endpoint != "static" and not endpoint.endswith(".static"):
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure or request.headers.get("X-Forwarded-Proto") == "https":
            response.headers["Strict-Transport-Security"] = hsts
        return response

    app.after_request(add_headers)
