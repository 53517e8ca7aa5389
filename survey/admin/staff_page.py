"""The staff page: an admin sees the accounts of their sites, changes their role and sites,
and looks after their security (require or reset a second factor, disable or enable, sign out
everywhere).

An admin manages an account only when every site it belongs to is one of theirs: disabling
someone also shuts them out of their other sites, which is for an admin of those sites too.
An admin does not manage their own account here (the account page does that), so that
nobody disables or locks themselves out by a slip. No change leaves a site without an
active administrator."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey.admin.blueprint import bp
from survey.admin.forms import EditStaffForm, NewStaffForm
from survey.auth import needs_second_factor, staff_required
from survey.coordinate.forms import option
from survey.domain import account_changes, audit_trail, password_links
from survey.domain.staff_setup import change_staff, sites_left_without_admin
from survey.extensions import db
from survey.models import Role, Site, User, site_memberships, user_by_email
from survey.settings import settings
from survey.staff_areas import Area

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


def managed_account(user_id: int) -> User:
    """An account of the admin's sites they may manage: 404 when it shares none of their
    sites, 403 when it is their own or also belongs to a site that is not theirs."""
    user = next((u for u in colleagues(db.session, g.user) if u.id == user_id), None)
    if user is None:
        abort(404)
    if not manages(g.user, user):
        abort(403)
    return user


def last_admin_message(user: User, sites: list[Site]) -> str:
    return _(
        "%(email)s is the only active administrator of %(sites)s. Make someone else an "
        "administrator there first.",
        email=user.email,
        sites=", ".join(site.name for site in sites),
    )


@bp.get("/staff")
@staff_required(Area.ADMINISTRATION)
def staff():
    """The accounts of the admin's sites and the state of their security."""
    return render_template(
        "admin/staff.html",
        accounts=colleagues(db.session, g.user),
        manages=lambda user: manages(g.user, user),
        # Only the sites the admin administers are named; others are counted.
        own_sites=lambda user: [site for site in user.sites if site.id in g.user.site_ids],
        role_label=lambda role: ROLE_LABELS.get(role, role),
        needs_second_factor=needs_second_factor,
        open_link=lambda user: password_links.open_link(db.session, user),
    )


@bp.post("/staff/<int:user_id>/<any(" + ", ".join(f"'{a}'" for a in DONE) + "):action>")
@staff_required(Area.ADMINISTRATION)
def change(user_id: int, action: str):
    """Apply one change to an account the admin manages; audited with the admin's name."""
    user = managed_account(user_id)
    back = (
        url_for("admin.edit_staff", user_id=user.id)
        if request.form.get("back") == "edit"
        else url_for("admin.staff")
    )
    if action == "disable" and (
        lonely := sites_left_without_admin(db.session, user, user.role, user.sites, active=False)
    ):
        flash(last_admin_message(user, lonely), "error")
        return redirect(back)
    if action == "require-2fa":
        done = account_changes.require_second_factor(user, required=True)
    elif action == "stop-requiring-2fa":
        done = account_changes.require_second_factor(user, required=False)
    elif action == "reset-2fa":
        done = account_changes.reset_second_factor(db.session, user)
    elif action == "disable":
        done = account_changes.disable(db.session, user)
    elif action == "enable":
        done = account_changes.enable(user)
    else:
        done = account_changes.end_sessions(db.session, user)
    audit_trail.log(done.action, subject=user, detail=done.detail)
    db.session.commit()
    flash(DONE[action] % {"email": user.email})
    return redirect(back)


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
@staff_required(Area.ADMINISTRATION)
def edit_staff(user_id: int):
    """Change an account's role and sites (only the admin's own sites are offered), and
    disable or enable it. Audited as `user.changed` with each change's old and new value."""
    user = managed_account(user_id)
    form = EditStaffForm(
        data={"role": str(user.role), "site_ids": user.site_ids}
        if request.method != "POST"
        else None
    )
    form.role.choices = [option(role.value, label) for role, label in ROLE_LABELS.items()]
    form.site_ids.choices = [option(site.id, site.name) for site in g.user.sites]
    if form.validate_on_submit():
        role = Role(form.role.data)
        # The admin's sites as ticked, and any other site the account keeps (none while an
        # admin manages only accounts wholly of their sites).
        sites = [site for site in g.user.sites if site.id in form.site_ids.data] + [
            site for site in user.sites if site.id not in g.user.site_ids
        ]
        lonely = sites_left_without_admin(db.session, user, role, sites, active=user.active)
        if lonely:
            form.role.errors.append(last_admin_message(user, lonely))
        else:
            changed = change_staff(user, role, sites)
            if changed:
                audit_trail.log("user.changed", subject=user, detail={"changed": changed})
                db.session.commit()
                flash(_("The changes to %(email)s are saved.", email=user.email))
            else:
                flash(_("Nothing was changed."))
            return redirect(url_for("admin.staff"), code=303)
    return render_template(
        "admin/staff_edit.html",
        form=form,
        user=user,
        role_label=ROLE_LABELS.get(user.role, user.role),
    ), (200 if not form.errors else 422)


@bp.route("/staff/new", methods=["GET", "POST"])
@staff_required(Area.ADMINISTRATION)
def new_staff():
    """Add an account at some of the admin's sites; its password is set through a one-time
    link that this page shows once, for the admin to hand over."""
    form = NewStaffForm()
    form.role.choices = [option(role.value, label) for role, label in ROLE_LABELS.items()]
    form.site_ids.choices = [option(site.id, site.name) for site in g.user.sites]
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if user_by_email(db.session, email) is not None:
            form.email.errors.append(_l("An account with this email address already exists."))
        else:
            sites = [site for site in g.user.sites if site.id in form.site_ids.data]
            user = User(
                email=email,
                password_hash=password_links.unusable_password_hash(),
                role=Role(form.role.data),
                sites=sites,
                totp_required=form.require_second_factor.data,
            )
            db.session.add(user)
            db.session.flush()
            token = password_links.issue(db.session, user, password_links.ACTIVATE, by=g.user)
            audit_trail.log(
                "user.created",
                subject=user,
                detail={
                    "role": str(user.role),
                    "sites": [site.name for site in sites],
                    "second_factor_required": user.totp_required,
                },
            )
            audit_trail.log(
                "password_link.issued", subject=user, detail={"purpose": password_links.ACTIVATE}
            )
            db.session.commit()
            return _link_page(user, token, password_links.ACTIVATE)
    return render_template("admin/staff_new.html", form=form), (200 if not form.errors else 422)


@bp.post("/staff/<int:user_id>/password-link")
@staff_required(Area.ADMINISTRATION)
def password_link(user_id: int):
    """A new one-time link to set the account's password (forgotten, or activation link
    lost or expired). The current password keeps working until the link is used."""
    user = next((u for u in colleagues(db.session, g.user) if u.id == user_id), None)
    if user is None:
        abort(404)
    if not manages(g.user, user):
        abort(403)
    purpose = (
        password_links.RESET
        if user.password_changed_at or user.last_login_at
        else password_links.ACTIVATE
    )
    token = password_links.issue(db.session, user, purpose, by=g.user)
    audit_trail.log("password_link.issued", subject=user, detail={"purpose": purpose})
    db.session.commit()
    return _link_page(user, token, purpose)


def _link_page(user: User, token: str, purpose: str):
    """The link, shown this once (never stored, and the response is not cached)."""
    url = settings().public_url.rstrip("/") + url_for("auth.set_password", token=token)
    return render_template(
        "admin/password_link.html",
        user=user,
        url=url,
        purpose=purpose,
        hours=int(password_links.LINK_LIFETIME.total_seconds() // 3600),
        role_label=ROLE_LABELS.get(user.role, user.role),
    )
