"""Rate limits against guessing and floods (Flask-Limiter), counted in the service's own
database by default (`database://`, survey/security/limit_storage.py), so that every gunicorn
worker and every web node counts together; `redis://host:6379/0` counts in Redis instead.

Each limit counts only what an attacker produces, so that ordinary use never meets it:
wrong guesses of private links, failed sign-ins and codes, webhooks with a bad signature. A limit is
checked before the view runs, so once it is reached even a right guess is refused until the
window moves on: that is what makes guessing pointless. Windows are short (minutes), so a
patient who mistypes a link or a clinician who mistypes a password waits a minute, not a day.

Each limit is a `Guard` defined here and declared on the views it guards, under their route:
`@limited(FAILED_SIGN_INS, ...)`. One limiter per application (kept in `app.extensions`), not
a module-wide singleton: its storage and on/off switch belong to the app's settings, so
`init_app` (after every blueprint is registered) puts each view's declared guards on it. No
view is named here: a view renamed or moved keeps its limits.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from flask import Flask, Response, current_app, g, request, session
from flask_limiter import Limiter, RequestLimit

from survey.domain import audit_trail
from survey.domain.invitations import TOKEN_PATTERN
from survey.extensions import db
from survey.security import limit_storage  # registers the database:// storage
from survey.settings import settings

logger = logging.getLogger("survey.security")

EXTENSION_KEY = "survey_limiter"


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
    """A limit read from the settings at request time, e.g. RATELIMIT_LOGIN_ACCOUNT (the
    `Settings` field of that name, so a setting changed on a running app counts at once)."""
    field = name.lower()
    return lambda: getattr(settings(), field)


def not_a_post() -> bool:
    return request.method != "POST"


# The limits, each declared on the views it guards with `@limited(...)`.


@dataclass(frozen=True, eq=False)
class Guard:
    """One limit: its setting (e.g. RATELIMIT_LOGIN_ACCOUNT, read at request time), whom it
    counts (`key`; the limiter's default is the client's address), which responses count and
    which requests it leaves alone. `shared_scope` makes one count across every view the guard
    is on. `across_blueprint` puts it on the views' blueprint instead (checked before any of
    the blueprint's views runs), exempting the blueprint's other views; counts stay per view."""

    setting: str
    key: Callable[[], str] | None = None
    deduct_when: Callable[[Response], bool] | None = None
    exempt_when: Callable[[], bool] | None = None
    shared_scope: str | None = None
    across_blueprint: bool = False


def limited(*guards: Guard):
    """Declare the limits that guard a view, under its route: `@limited(LINK_GUESSES)`."""

    def mark(view):
        view.rate_limits = (*getattr(view, "rate_limits", ()), *guards)
        return view

    return mark


# Wrong guesses at a patient's private link; a malformed one is not a guess.
LINK_GUESSES = Guard("RATELIMIT_LINK_GUESSES", key=client_address, deduct_when=link_guessed_wrong)
# Tablet codes are shorter than link tokens: wrong ones count per address, across the typed
# and the scanned page.
TABLET_CODE_GUESSES = Guard(
    "RATELIMIT_LINK_GUESSES",
    key=client_address,
    deduct_when=handoff_guessed_wrong,
    shared_scope="tablet-code",
)
# A set-password link that opens nothing is a guess, counted as a patient link's is.
PASSWORD_LINK_GUESSES = Guard(
    "RATELIMIT_LINK_GUESSES", key=client_address, deduct_when=attempt_failed
)
# Failed sign-ins: one count per address across the password and the code pages, and one per
# account (as typed, known or not) and per account whose code is being entered.
FAILED_SIGN_INS = Guard(
    "RATELIMIT_LOGIN_ADDRESS",
    key=client_address,
    deduct_when=attempt_failed,
    exempt_when=not_a_post,
    shared_scope="sign-in",
)
FAILED_SIGN_INS_TO_ACCOUNT = Guard(
    "RATELIMIT_LOGIN_ACCOUNT", key=login_account, deduct_when=attempt_failed, exempt_when=not_a_post
)
FAILED_CODES = Guard(
    "RATELIMIT_CODE_ACCOUNT",
    key=pending_account,
    deduct_when=attempt_failed,
    exempt_when=not_a_post,
)
# A signed-in user's wrong current password or code on their own account's pages.
FAILED_OWN_CHECKS = Guard(
    "RATELIMIT_CODE_ACCOUNT", key=signed_in_user, deduct_when=attempt_failed, exempt_when=not_a_post
)
# The SMS provider's webhooks: a flood, and posts with a bad signature.
WEBHOOKS = Guard("RATELIMIT_WEBHOOKS", across_blueprint=True)
REFUSED_WEBHOOKS = Guard(
    "RATELIMIT_WEBHOOK_FAILURES", deduct_when=signature_refused, across_blueprint=True
)


# What happens when a limit is reached.


def note_breach(limit: RequestLimit) -> None:
    """Log every breach (without the key: it may be an address); audit staff sign-in ones."""
    endpoint = request.endpoint or "?"
    logger.warning("rate limit %s reached on %s", limit.limit, endpoint)
    if request.blueprint == "auth":
        audit_trail.log(
            "login.rate_limited", detail={"endpoint": endpoint, "limit": str(limit.limit)}
        )
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
    """Put on each view of this application the guards declared on it, in their order."""
    shared: dict[Guard, Callable] = {}
    across_blueprint: dict[Guard, list[str]] = {}
    for endpoint, view in list(app.view_functions.items()):
        for guard in getattr(view, "rate_limits", ()):
            if guard.across_blueprint:
                across_blueprint.setdefault(guard, []).append(endpoint)
                continue
            if guard.shared_scope is None:
                limit = limiter.limit(
                    setting(guard.setting),
                    key_func=guard.key,
                    deduct_when=guard.deduct_when,
                    exempt_when=guard.exempt_when,
                )
            else:
                if guard not in shared:
                    shared[guard] = limiter.shared_limit(
                        setting(guard.setting),
                        scope=guard.shared_scope,
                        key_func=guard.key,
                        deduct_when=guard.deduct_when,
                        exempt_when=guard.exempt_when,
                    )
                limit = shared[guard]
            app.view_functions[endpoint] = limit(app.view_functions[endpoint])
    for guard, endpoints in across_blueprint.items():
        for blueprint in dict.fromkeys(endpoint.rpartition(".")[0] for endpoint in endpoints):
            limiter.limit(
                setting(guard.setting),
                key_func=guard.key,
                deduct_when=guard.deduct_when,
                exempt_when=_not_one_of(endpoints, guard.exempt_when),
            )(app.blueprints[blueprint])


def _not_one_of(endpoints: list[str], exempt_when: Callable[[], bool] | None):
    """Exempt the blueprint's other views (and what the guard itself exempts)."""
    guarded = frozenset(endpoints)

    def exempt() -> bool:
        return request.endpoint not in guarded or bool(exempt_when and exempt_when())

    return exempt
