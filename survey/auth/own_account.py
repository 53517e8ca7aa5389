"""A member of staff's own account: password, second factor, and the sessions signed in.

Changing the password or the second factor ends every other session of the account and gives
this browser a new session token, so a stolen session or password stops working at once."""

from flask import flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _

from survey.auth import needs_second_factor, staff_required
from survey.auth.blueprint import bp
from survey.auth.forms import (
    ConfirmForm,
    PasswordChangeForm,
    TwoFactorEnrolForm,
    TwoFactorRemoveForm,
)
from survey.auth.views import claim_step
from survey.domain import audit_trail, totp
from survey.domain.staff_sessions import end_all_sessions, end_session, open_sessions, start_session
from survey.extensions import db
from survey.models import utcnow
from survey.passwords import check_password, hash_password
from survey.security.limits import FAILED_OWN_CHECKS, limited
from survey.settings import settings


@bp.get("/account")
@staff_required()
def account():
    """Who is signed in, how the account is protected, and where else it is signed in."""
    return render_template(
        "auth/account.html",
        sessions=open_sessions(db.session, g.user),
        form=ConfirmForm(),
        second_factor_required=needs_second_factor(g.user),
    )


@bp.post("/account/sessions/end-others")
@staff_required()
def end_other_sessions():
    """Sign out every other browser signed in to this account."""
    form = ConfirmForm()
    if form.validate_on_submit():
        ended = end_all_sessions(db.session, g.user, "ended by user", keep=g.staff_session)
        audit_trail.log("sessions.ended", subject=g.user, detail={"sessions": ended})
        db.session.commit()
        flash(_("Your other sessions have been signed out."))
    return redirect(url_for(".account"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@limited(FAILED_OWN_CHECKS)
@staff_required()
def password():
    """Change one's own password (the current one first)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not check_password(g.user.password_hash, form.current.data):
            g.auth_failed = True
            audit_trail.log("password.change_failed", subject=g.user)
            db.session.commit()
            form.current.errors.append(_("Your current password is not right."))
            return render_template("auth/password.html", form=form), 200
        if form.new.data == form.current.data:
            form.new.errors.append(_("Choose a password different from the current one."))
            return render_template("auth/password.html", form=form), 200
        g.user.password_hash = hash_password(form.new.data)
        g.user.password_changed_at = utcnow()
        renew_session(because="password changed", action="password.changed")
        flash(_("Your password has been changed. Any other sessions have been signed out."))
        return redirect(url_for(".account"), code=303)
    return render_template("auth/password.html", form=form)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@limited(FAILED_OWN_CHECKS)
@staff_required()
def two_factor():
    """Set up a second factor (an authenticator app), or remove it."""
    if g.user.totp_secret:
        return remove_second_factor()
    staff_session = g.staff_session
    if not staff_session.totp_candidate:
        staff_session.totp_candidate = totp.new_secret()
        db.session.commit()
    candidate = staff_session.totp_candidate
    form = TwoFactorEnrolForm()
    if form.validate_on_submit():
        step = totp.accepted_step(candidate, form.code.data, None, utcnow())
        if step is None:
            g.auth_failed = True
            form.code.errors.append(
                _("That code is not right. Check the key you typed and the phone's clock.")
            )
        else:
            g.user.totp_secret, g.user.totp_last_step = candidate, step
            staff_session.totp_candidate = None
            renew_session(because="second factor set up", action="2fa.enrolled")
            flash(_("Your second factor is set up. You will be asked for a code at sign-in."))
            return redirect(url_for(".account"), code=303)
    issuer = settings().totp_issuer
    uri = totp.provisioning_uri(candidate, g.user.email, issuer)
    return render_template(
        "auth/two_factor.html",
        form=form,
        key=totp.grouped(candidate),
        uri=uri,
        qr_code=totp.qr_code_svg(uri, _("QR code of the key for your authenticator app")),
        issuer=issuer,
    ), (200 if not form.errors else 422)


def remove_second_factor():
    """Turn the second factor off, with the password and a current code; not when required."""
    required = needs_second_factor(g.user)
    form = TwoFactorRemoveForm()
    if not required and form.validate_on_submit():
        password_ok = check_password(g.user.password_hash, form.password.data)
        step = totp.accepted_step(
            g.user.totp_secret, form.code.data, g.user.totp_last_step, utcnow()
        )
        if password_ok and step is not None and claim_step(g.user, step):
            g.user.totp_secret, g.user.totp_last_step = None, None
            renew_session(because="second factor removed", action="2fa.removed")
            flash(_("Your second factor has been removed."))
            return redirect(url_for(".account"), code=303)
        g.auth_failed = True
        audit_trail.log("2fa.remove_failed", subject=g.user)
        db.session.commit()
        form.code.errors.append(_("The password or the code is not right."))
    return render_template("auth/two_factor_on.html", form=form, required=required), (
        200 if not form.errors else 422
    )


def renew_session(because: str, action: str) -> None:
    """After a change of credentials: end every session of the account, this one included,
    and give this browser a fresh one; audit the change."""
    ended = end_all_sessions(db.session, g.user, because, keep=g.staff_session)
    end_session(g.staff_session, because)
    keep = {key: session[key] for key in ("locale",) if key in session}
    session.clear()
    session.update(keep)
    session.permanent = True
    session["staff_token"] = start_session(
        db.session,
        g.user,
        remote_addr=g.staff_session.remote_addr,
        user_agent=g.staff_session.user_agent,
        sign_in=False,
    )
    audit_trail.log(action, subject=g.user, detail={"other_sessions_ended": ended})
    db.session.commit()
