"""Sign in (password, then a code for staff with a second factor) and sign out.

Every outcome a guesser could learn from looks the same until the password is right: a wrong
password and an unknown address get one message, take as long (survey/passwords.py), and count
against the same limits (survey/security/limits.py). The view marks each failed attempt on
`g.auth_failed`, which is what those limits count."""

import time
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value

from survey.auth.blueprint import bp
from survey.auth.forms import CodeForm, LoginForm
from survey.domain import audit_trail, totp
from survey.domain.staff_sessions import end_session, start_session
from survey.extensions import db
from survey.models import User, user_by_email, utcnow
from survey.passwords import check_password, hash_password, needs_rehash
from survey.security.limits import (
    FAILED_CODES,
    FAILED_SIGN_INS,
    FAILED_SIGN_INS_TO_ACCOUNT,
    limited,
)
from survey.staff_areas import home_page

PENDING_KEY = "pending_login"
# Time to type the code after the password was accepted.
PENDING_SECONDS = 300


@bp.route("/login", methods=["GET", "POST"])
@limited(FAILED_SIGN_INS, FAILED_SIGN_INS_TO_ACCOUNT)
def login():
    """Sign a member of staff in with email and password."""
    if g.user is not None:
        return redirect(_safe_next() or url_for("clinic.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = user_by_email(db.session, form.email.data)
        password_ok = check_password(user.password_hash if user else None, form.password.data)
        if not password_ok:
            g.auth_failed = True
            # Tied to the account when there is one, so its own sites' admins see it.
            audit_trail.log(
                "login.failed", subject=user, detail={"email": printable(form.email.data)}
            )
            db.session.commit()
            flash(_("The email or password is not right. Please try again."), "error")
            return render_template("auth/login.html", form=form), 200
        if not user.active:
            audit_trail.log("login.refused", subject=user, detail={"reason": "disabled"})
            db.session.commit()
            flash(
                _("This account is disabled. Please ask your administrator to enable it."),
                "error",
            )
            return render_template("auth/login.html", form=form), 200
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(form.password.data)
        if user.totp_secret:
            session.clear()
            session[PENDING_KEY] = {
                "user": user.id,
                "since": int(time.time()),
                "next": _safe_next(),
            }
            db.session.commit()
            return redirect(url_for(".login_code"), code=303)
        return finish_login(user, _safe_next(), second_factor=False)
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@limited(FAILED_SIGN_INS, FAILED_CODES)
def login_code():
    """The second step for staff with a second factor: the code from their app."""
    if g.user is not None:
        return redirect(url_for("clinic.index"))
    user, next_url = pending_login()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(_("Please sign in again."), "error")
        return redirect(url_for(".login"))
    form = CodeForm()
    if form.validate_on_submit():
        step = totp.accepted_step(user.totp_secret, form.code.data, user.totp_last_step, utcnow())
        if step is None or not claim_step(user, step):
            g.auth_failed = True
            audit_trail.log("login.failed", subject=user, detail={"reason": "code"})
            db.session.commit()
            flash(
                _(
                    "That code is not right, or it was used already. Enter the code your "
                    "authenticator app shows now."
                ),
                "error",
            )
            return render_template("auth/code.html", form=form), 200
        return finish_login(user, next_url, second_factor=True)
    return render_template("auth/code.html", form=form)


@bp.post("/logout")
def logout():
    """End this browser's staff session."""
    if g.staff_session is not None:
        end_session(g.staff_session, "signed out")
        audit_trail.log("logout", subject=g.user)
        db.session.commit()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


def finish_login(user: User, next_url: str | None, second_factor: bool):
    """Start a new server-side session (a fresh token: never one from before sign-in)."""
    session.clear()
    session.permanent = True
    session["staff_token"] = start_session(
        db.session,
        user,
        remote_addr=request.remote_addr,
        user_agent=request.user_agent.string,
    )
    g.user = user
    audit_trail.log("login", subject=user, detail={"second_factor": second_factor})
    db.session.commit()
    # A coordinator's day starts with follow-up; everyone else's with the clinic list.
    return redirect(next_url or url_for(home_page(user.role)))


def pending_login() -> tuple[User | None, str | None]:
    """The user whose password was accepted in this browser moments ago, and where to go."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, None
    user_id, since = pending.get("user"), pending.get("since")
    if not isinstance(user_id, int) or not isinstance(since, int):
        return None, None
    if not 0 <= time.time() - since <= PENDING_SECONDS:
        return None, None
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        return None, None
    next_url = pending.get("next")
    return user, next_url if isinstance(next_url, str) and _is_local(next_url) else None


def claim_step(user: User, step: int) -> bool:
    """Record a code's step as used; False if another request used it (or a later one) first."""
    claimed = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step),
        execution_options={"synchronize_session": False},
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def printable(typed: str) -> str:
    """What was typed as an address, fit for the audit trail: at most 254 characters, and
    control or direction-changing characters written as escapes rather than stored."""
    typed = typed.strip().lower()[:254]
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in typed)


def _safe_next() -> str | None:
    """The page to return to after signing in, only if it is a path on this site."""
    target = request.args.get("next", "")
    return target if _is_local(target) else None


def _is_local(target: str) -> bool:
    parts = urlsplit(target)
    # Browsers drop tabs and newlines from addresses: "/\t/evil.example" is "//evil.example".
    return (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and "\\" not in target
        and target.isprintable()
    )
