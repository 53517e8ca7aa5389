"""The page a one-time link opens: choose the account's password (survey/domain/password_links.py).

A link that does not work (never issued, used, replaced or expired) gets the same 404 and
the same words whichever it is, and counts as a guess against the address's limit."""

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from survey.auth.blueprint import bp
from survey.auth.forms import SetPasswordForm
from survey.domain import audit_trail, password_links
from survey.extensions import db
from survey.security.limits import PASSWORD_LINK_GUESSES, limited


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
@limited(PASSWORD_LINK_GUESSES)
def set_password(token: str):
    """Set a password with a link an admin handed over, then sign in with it."""
    link = password_links.find(db.session, token)
    if link is None:
        g.auth_failed = True
        return render_template("auth/link_gone.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        user, purpose = link.user, link.purpose
        try:
            ended = password_links.use(db.session, link, form.new.data)
        except password_links.LinkUsed:
            db.session.rollback()
            return render_template("auth/link_gone.html"), 404
        audit_trail.record(
            db.session,
            "password.set_by_link",
            user=user,
            subject=user,
            detail={"purpose": purpose, "sessions_ended": ended},
            remote_addr=audit_trail.request_address(),
        )
        db.session.commit()
        flash(_("Your password is set. Sign in with your email address and the new password."))
        return redirect(url_for("auth.login"), code=303)
    return render_template(
        "auth/set_password.html", form=form, email=link.user.email, purpose=link.purpose
    ), (200 if not form.errors else 422)
