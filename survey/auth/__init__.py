"""Staff sign-in, sessions and the decorators that guard staff pages. The blueprint is in
blueprint.py; the view modules (views, own_account, set_password) put their routes on it."""

import functools

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from survey.domain.staff_sessions import find_session
from survey.extensions import db
from survey.models import User
from survey.settings import settings
from survey.staff_areas import Area, may_use

# What a member of staff who must still set up a second factor may use meanwhile.
OPEN_BEFORE_SECOND_FACTOR = {
    "auth.two_factor",
    "auth.logout",
    "auth.login",
    "auth.login_code",
    "auth.set_password",
}


def load_signed_in_user() -> None:
    """Put the signed-in staff member (or None) on `g` for this request."""
    g.user = g.staff_session = None
    token = session.get("staff_token")
    if not token:
        return
    idle_limit = current_app.config["PERMANENT_SESSION_LIFETIME"]
    staff_session, why = find_session(db.session, token, idle_limit)
    if staff_session is None:
        session.pop("staff_token", None)
        db.session.commit()
        if why == "expired":
            flash(_("You were signed out after a period of inactivity. Please sign in again."))
        return
    g.user, g.staff_session = staff_session.user, staff_session
    if db.session.dirty:
        db.session.commit()


def needs_second_factor(user: User) -> bool:
    """Whether the user must use a second factor: required for them, or for their role."""
    return bool(user.totp_required) or str(user.role) in settings().totp_required_roles


def require_second_factor():
    """Send staff who must have a second factor, and have none yet, to set one up first."""
    user = g.get("user")
    if user is None or user.totp_secret or not needs_second_factor(user):
        return None
    endpoint = request.endpoint or ""
    if (
        endpoint in OPEN_BEFORE_SECOND_FACTOR
        or endpoint == "static"
        or endpoint.endswith(".static")
        or request.blueprint in ("patient", "operations")
    ):
        return None
    flash(_("Please set up a second factor before you continue."))
    return redirect(url_for("auth.two_factor"))


def staff_required(area: Area = Area.STAFF):
    """Let only signed-in staff whose role may use this area (survey/staff_areas.py) use a
    view. The view keeps its area as `staff_area`, which the navigation bar reads."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not may_use(g.user.role, area):
                abort(403)
            return view(*args, **kwargs)

        wrapped.staff_area = area
        return wrapped

    return decorator


def staff_area(view) -> Area | None:
    """The area a view's `staff_required` puts it in; None for a view open to anyone."""
    return getattr(view, "staff_area", None)


def init_app(app: Flask) -> None:
    app.before_request(load_signed_in_user)
    app.before_request(require_second_factor)
