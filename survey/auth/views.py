"""Sign in and sign out."""

from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from survey import audit
from survey.auth import bp
from survey.auth.forms import LoginForm
from survey.auth.passwords import check_password, hash_password, needs_rehash
from survey.auth.sessions import end_session, start_session
from survey.extensions import db
from survey.models import user_by_email


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign a member of staff in with email and password."""
    if g.user is not None:
        return redirect(_safe_next() or url_for("clinic.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = user_by_email(db.session, form.email.data)
        password_ok = check_password(user.password_hash if user else None, form.password.data)
        if not password_ok:
            audit.log("login.failed", detail={"email": form.email.data.strip().lower()[:254]})
            db.session.commit()
            flash(_("The email or password is not right. Please try again."), "error")
            return render_template("auth/login.html", form=form), 200
        if not user.active:
            audit.log("login.refused", subject=user, detail={"reason": "disabled"})
            db.session.commit()
            flash(
                _("This account is disabled. Please ask your administrator to enable it."),
                "error",
            )
            return render_template("auth/login.html", form=form), 200
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(form.password.data)
        session.clear()
        session.permanent = True
        session["staff_token"] = start_session(db.session, user)
        g.user = user
        audit.log("login", subject=user)
        db.session.commit()
        return redirect(_safe_next() or url_for("clinic.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """End this browser's staff session."""
    if g.staff_session is not None:
        end_session(g.staff_session, "signed out")
        audit.log("logout", subject=g.user)
        db.session.commit()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


def _safe_next() -> str | None:
    """The page to return to after signing in, only if it is a path on this site."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and "\\" not in target:
        return target
    return None
