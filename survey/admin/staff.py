"""The staff page: an admin sees the accounts of their sites and looks after their security
(require or reset a second factor, disable or enable, sign out everywhere).

An admin manages an account only when every site it belongs to is one of theirs: disabling
someone also shuts them out of their other sites, which is for an admin of those sites too.
An admin does not manage their own account here (the account page does that), so that
nobody disables or locks themselves out by a slip."""

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey import audit
from survey.admin import bp
from survey.auth import accounts, needs_second_factor, staff_required
from survey.extensions import db
from survey.models import Role, User, site_memberships

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.CLINICIAN: _l("Clinician"),
    Role.COORDINATOR: _l("Coordinator"),
}
DONE = {
    "require-2fa": _l("%(email)s must now use a second factor."),
    "stop-requiring-2fa": _l("%(email)s no longer has to use a second factor."),
    "reset-2fa": _l("The second factor of %(email)s was removed and they were signed out."),
    "disable": _l("%(email)s was disabled and signed out."),
    "enable": _l("%(email)s can sign in again."),
    "end-sessions": _l("%(email)s was signed out of every browser."),
}


def colleagues(session: Session, admin: User) -> list[User]:
    """Every account that shares a site with the admin, theirs included, by email."""
    shared = select(site_memberships.c.user_id).where(
        site_memberships.c.site_id.in_(admin.site_ids)
    )
    return list(
        session.scalars(
            select(User)
            .where(User.id.in_(shared))
            .options(selectinload(User.sites))
            .order_by(User.email)
        )
    )


def manages(admin: User, user: User) -> bool:
    return user.id != admin.id and set(user.site_ids) <= set(admin.site_ids)


@bp.get("/staff")
@staff_required(Role.ADMIN)
def staff():
    """The accounts of the admin's sites and the state of their security."""
    return render_template(
        "admin/staff.html",
        accounts=colleagues(db.session, g.user),
        manages=lambda user: manages(g.user, user),
        role_label=lambda role: ROLE_LABELS.get(role, role),
        needs_second_factor=needs_second_factor,
    )


@bp.post("/staff/<int:user_id>/<any(" + ", ".join(f"'{a}'" for a in DONE) + "):action>")
@staff_required(Role.ADMIN)
def change(user_id: int, action: str):
    """Apply one change to an account the admin manages; audited with the admin's name."""
    user = next((u for u in colleagues(db.session, g.user) if u.id == user_id), None)
    if user is None:
        abort(404)
    if not manages(g.user, user):
        abort(403)
    if action == "require-2fa":
        done = accounts.require_second_factor(user, required=True)
    elif action == "stop-requiring-2fa":
        done = accounts.require_second_factor(user, required=False)
    elif action == "reset-2fa":
        done = accounts.reset_second_factor(db.session, user)
    elif action == "disable":
        done = accounts.disable(db.session, user)
    elif action == "enable":
        done = accounts.enable(user)
    else:
        done = accounts.end_sessions(db.session, user)
    audit.log(done.action, subject=user, detail=done.detail)
    db.session.commit()
    flash(DONE[action] % {"email": user.email})
    return redirect(url_for("admin.staff"))
