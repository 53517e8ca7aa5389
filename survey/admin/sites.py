"""The sites page: an admin adds sites and edits the details of their own (name, country,
time zone, default language, contact, the neutral name texts start with, whether patients
see their own totals). A site an admin
adds is one of theirs at once; another admin's site is not found here (404). Every change is
audited with what it was and what it became."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from survey.admin.blueprint import bp
from survey.admin.forms import SiteForm
from survey.auth import staff_required
from survey.coordinate.forms import COMMON_ZONES
from survey.domain import audit_trail
from survey.domain.staff_setup import StaffSetupError, create_site, update_site
from survey.extensions import db
from survey.models import Site, SmsSender
from survey.outreach import texts
from survey.staff_areas import Area


def my_site(site_id: int) -> Site:
    site = next((site for site in g.user.sites if site.id == site_id), None)
    if site is None:
        abort(404)
    return site


@bp.get("/sites")
@staff_required(Area.ADMINISTRATION)
def sites():
    """The admin's sites and their details."""
    return render_template(
        "admin/sites.html",
        sites=[(site, texts.sender_name(db.session, site)) for site in g.user.sites],
        country_name=_country_name,
    )


@bp.route("/sites/new", methods=["GET", "POST"])
@staff_required(Area.ADMINISTRATION)
def new_site():
    """Add a site, which the admin then looks after."""
    form = SiteForm()
    if form.validate_on_submit() and _name_is_free(form, None) and _sms_name_is_neutral(form):
        try:
            site = create_site(
                db.session,
                form.name.data,
                form.timezone.data,
                form.default_language.data,
                form.contact.data,
                form.country.data,
            )
        except StaffSetupError:  # checked above; a race with another admin's same name
            db.session.rollback()
            form.name.errors.append(_("A site with this name already exists."))
        else:
            site.patient_results = form.patient_results.data
            g.user.sites.append(site)
            db.session.flush()
            if form.sms_name.data:
                texts.set_sender_name(db.session, site, form.sms_name.data)
            audit_trail.log(
                "site.created",
                subject=site,
                site_id=site.id,
                detail=_fields_of(site, form.sms_name.data),
            )
            db.session.commit()
            flash(_("%(site)s is added. You can now add its staff.", site=site.name))
            return redirect(url_for("admin.sites"), code=303)
    return _form_page(form, None)


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@staff_required(Area.ADMINISTRATION)
def edit_site(site_id: int):
    """Change one of the admin's sites; patients enrolled keep their own zone and language."""
    site = my_site(site_id)
    sender = db.session.get(SmsSender, site.id)
    form = SiteForm(
        data={
            "name": site.name,
            "country": site.country or "",
            "timezone": site.timezone,
            "default_language": site.default_language,
            "contact": site.contact,
            "sms_name": sender.name if sender else "",
            "patient_results": site.patient_results,
        }
        if not _posted()
        else None
    )
    if form.validate_on_submit() and _name_is_free(form, site) and _sms_name_is_neutral(form):
        old_sms = sender.name if sender else ""
        try:
            changed = update_site(
                db.session,
                site,
                name=form.name.data,
                timezone=form.timezone.data,
                language=form.default_language.data,
                contact=form.contact.data,
                country=form.country.data,
            )
        except StaffSetupError:  # checked above; a race with another admin's same name
            db.session.rollback()
            form.name.errors.append(_("A site with this name already exists."))
            return _form_page(form, site)
        if form.sms_name.data != old_sms:
            if form.sms_name.data:
                texts.set_sender_name(db.session, site, form.sms_name.data)
            else:
                db.session.delete(sender)
            changed["sms_name"] = (old_sms, form.sms_name.data)
        if form.patient_results.data != site.patient_results:
            changed["patient_results"] = (site.patient_results, form.patient_results.data)
            site.patient_results = form.patient_results.data
        if changed:
            audit_trail.log(
                "site.changed",
                subject=site,
                site_id=site.id,
                detail={"changed": {name: list(pair) for name, pair in changed.items()}},
            )
            db.session.commit()
            flash(_("The details of %(site)s are saved.", site=site.name))
        else:
            flash(_("Nothing was changed."))
        return redirect(url_for("admin.sites"), code=303)
    return _form_page(form, site)


def _posted() -> bool:
    return request.method == "POST"


def _form_page(form: SiteForm, site: Site | None):
    status = 200 if not form.errors else 422
    return render_template("admin/site_form.html", form=form, site=site, zones=COMMON_ZONES), status


def _name_is_free(form: SiteForm, site: Site | None) -> bool:
    query = select(Site.id).where(Site.name == form.name.data)
    if site is not None:
        query = query.where(Site.id != site.id)
    if db.session.scalar(query) is None:
        return True
    form.name.errors.append(_("A site with this name already exists."))
    return False


def _sms_name_is_neutral(form: SiteForm) -> bool:
    if not (revealing := texts.revealing_words(form.sms_name.data or "")):
        return True
    form.sms_name.errors.append(
        _(
            "That name would tell anyone who sees the phone what the patient is treated "
            "for (%(words)s). Choose a neutral name.",
            words=", ".join(revealing),
        )
    )
    return False


def _fields_of(site: Site, sms_name: str) -> dict:
    return {
        "name": site.name,
        "country": site.country,
        "timezone": site.timezone,
        "default_language": site.default_language,
        "contact": site.contact,
        "sms_name": sms_name,
        "patient_results": site.patient_results,
    }


def _country_name(code: str | None) -> str:
    if not code:
        return _("not set")
    return f"{get_locale().territories.get(code, code)} ({code})"
