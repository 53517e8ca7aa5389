"""Rate limits against guessing and floods (Flask-Limiter), counted in the service's own
database by default (`database://`, survey/security/limit_storage.py), so that every gunicorn
worker and every web node counts together; `redis://host:6379/0` counts in Redis instead.

Each limit counts only what an attacker produces, so that ordinary use never meets it:
wrong guesses of private links, failed sign-ins and codes, webhooks with a bad signature. A limit is
checked before the view runs, so once it is reached even a right guess is refused until the
window moves on: that is what makes guessing pointless. Windows are short (minutes), so a
patient who mistypes a link or a clinician who mistypes a password waits a minute, not a day.

One limiter per application (kept in `app.extensions`), not a module-wide singleton: its
storage and on/off switch belong to the app's settings. Limits are put on views after every
blueprint is registered, so new views of the same names are covered without edits elsewhere.
"""

import hashlib
import logging
import time
from urllib.parse import urlparse

from flask import Flask, Response, current_app, g, request, session
from flask_limiter import Limiter, RequestLimit

from survey import audit
from survey.extensions import db
from survey.invitations import TOKEN_PATTERN
from survey.security import limit_storage  # registers the database:// storage

logger = logging.getLogger("survey.security")

EXTENSION_KEY = "survey_limiter"
WEBHOOK_BLUEPRINT = "outreach"  # survey/sms_webhooks.py
WEBHOOK_ENDPOINTS = ("outreach.status_callback", "outreach.inbound")


def limiter_of(app: Flask) -> Limiter:
    """The application's limiter (tests reset it with `limiter_of(app).reset()`)."""
    return app.extensions[EXTENSION_KEY]


# Whom a limit counts. Keys never hold a patient's token or a clear email address.


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For once SURVEY_PROXY_COUNT is set)."""
    return request.remote_addr or "unknown"


def login_account() -> str:
    """The account a sign-in is for, as typed (known or not: the limit must not tell which)."""
    email = request.form.get("email", "").strip().lower()[:254]
    return "account:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]


def pending_account() -> str:
    """The account whose second-factor code is being entered."""
    pending = session.get("pending_login")
    user_id = pending.get("user") if isinstance(pending, dict) else None
    return f"user:{user_id}" if isinstance(user_id, int) else "user:none"


def signed_in_user() -> str:
    user = g.get("user")
    return f"user:{user.id}" if user is not None else "user:none"


# Which responses count against a limit.


def link_guessed_wrong(response: Response) -> bool:
    """A well-formed token that opens nothing: a guess. A malformed one is refused before any
    lookup and cannot be a guess, so it is not counted (it still meets a reached limit)."""
    token = (request.view_args or {}).get("token", "")
    return response.status_code == 404 and bool(TOKEN_PATTERN.fullmatch(token))


def handoff_guessed_wrong(response: Response) -> bool:
    """A tablet code that opened nothing (survey/patient/tablet.py sets g.handoff_failed)."""
    return bool(g.get("handoff_failed"))


def attempt_failed(response: Response) -> bool:
    """A sign-in, code or password check that failed (the view sets g.auth_failed)."""
    return bool(g.get("auth_failed"))


def signature_refused(response: Response) -> bool:
    return response.status_code == 403


def setting(name: str):
    """A limit read from the settings at request time, e.g. RATELIMIT_LOGIN_ACCOUNT."""
    return lambda: current_app.config[name]


def is_webhook() -> bool:
    return request.endpoint in WEBHOOK_ENDPOINTS


def not_webhook() -> bool:
    return not is_webhook()


def not_a_post() -> bool:
    return request.method != "POST"


# What happens when a limit is reached.


def note_breach(limit: RequestLimit) -> None:
    """Log every breach (without the key: it may be an address); audit staff sign-in ones."""
    endpoint = request.endpoint or "?"
    logger.warning("rate limit %s reached on %s", limit.limit, endpoint)
    if request.blueprint == "auth":
        audit.log("login.rate_limited", detail={"endpoint": endpoint, "limit": str(limit.limit)})
        db.session.commit()


def add_retry_after(response: Response) -> Response:
    """Tell a client that met a limit when to come back (RFC 6585)."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        limit = limiter_of(current_app).current_limit
        if limit is not None:
            response.headers["Retry-After"] = str(max(1, int(limit.reset_at - time.time())))
    return response


def storage_options(app: Flask) -> dict:
    """What the configured storage needs besides its address: the database storage counts
    through the application's own engine (and its pool)."""
    scheme = urlparse(str(app.config.get("RATELIMIT_STORAGE_URI") or "")).scheme
    if scheme != limit_storage.SCHEME or not app.config.get("RATELIMIT_ENABLED", True):
        return {}
    with app.app_context():
        return {"engine": db.engine}


def init_app(app: Flask) -> None:
    limiter = Limiter(
        key_func=client_address,
        key_prefix="survey",
        on_breach=note_breach,
        storage_options=storage_options(app),
        # With the storage unreachable, count per process rather than refuse every request.
        in_memory_fallback_enabled=True,
        # A count that cannot be written after the response (the storage failed between the
        # check and the count) is logged; it never turns the response into a server error.
        swallow_errors=True,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter
    app.after_request(add_retry_after)
    apply_limits(app, limiter)


def apply_limits(app: Flask, limiter: Limiter) -> None:
    """Put each limit on its view or blueprint, where that exists in this application."""

    def on_view(endpoint: str, *limits) -> None:
        view = app.view_functions.get(endpoint)
        if view is None:
            return
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view

    on_view(
        "patient.open_link",
        limiter.limit(
            setting("RATELIMIT_LINK_GUESSES"),
            key_func=client_address,
            deduct_when=link_guessed_wrong,
        ),
    )
    # Tablet codes are shorter than link tokens: wrong ones count per address, across the
    # typed and the scanned page.
    tablet_guesses = limiter.shared_limit(
        setting("RATELIMIT_LINK_GUESSES"),
        scope="tablet-code",
        key_func=client_address,
        deduct_when=handoff_guessed_wrong,
    )
    on_view("patient.tablet", tablet_guesses)
    on_view("patient.tablet_code", tablet_guesses)
    # A set-password link that opens nothing is a guess, counted as a patient link's is.
    on_view(
        "auth.set_password",
        limiter.limit(
            setting("RATELIMIT_LINK_GUESSES"),
            key_func=client_address,
            deduct_when=attempt_failed,
        ),
    )
    # One count per address across the password and the code pages.
    failed_sign_ins = limiter.shared_limit(
        setting("RATELIMIT_LOGIN_ADDRESS"),
        scope="sign-in",
        key_func=client_address,
        deduct_when=attempt_failed,
        exempt_when=not_a_post,
    )
    on_view(
        "auth.login",
        failed_sign_ins,
        limiter.limit(
            setting("RATELIMIT_LOGIN_ACCOUNT"),
            key_func=login_account,
            deduct_when=attempt_failed,
            exempt_when=not_a_post,
        ),
    )
    on_view(
        "auth.login_code",
        failed_sign_ins,
        limiter.limit(
            setting("RATELIMIT_CODE_ACCOUNT"),
            key_func=pending_account,
            deduct_when=attempt_failed,
            exempt_when=not_a_post,
        ),
    )
    for endpoint in ("auth.password", "auth.two_factor"):
        on_view(
            endpoint,
            limiter.limit(
                setting("RATELIMIT_CODE_ACCOUNT"),
                key_func=signed_in_user,
                deduct_when=attempt_failed,
                exempt_when=not_a_post,
            ),
        )
    if WEBHOOK_BLUEPRINT in app.blueprints:
        webhooks = app.blueprints[WEBHOOK_BLUEPRINT]
        limiter.limit(setting("RATELIMIT_WEBHOOKS"), exempt_when=not_webhook)(webhooks)
        limiter.limit(
            setting("RATELIMIT_WEBHOOK_FAILURES"),
            deduct_when=signature_refused,
            exempt_when=not_webhook,
        )(webhooks)
