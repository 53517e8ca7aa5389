"""Enrolling a theatre list: upload a CSV, read every row's problems, enrol the good rows."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from survey.auth import staff_required
from survey.coordinate.blueprint import bp
from survey.coordinate.common import sending_rules
from survey.domain import audit_trail
from survey.domain.enrolment import EnrolmentError
from survey.extensions import db
from survey.models import utcnow
from survey.outreach.bulk_enrolment import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    ListRefused,
    check_list,
    enrol_list,
)
from survey.outreach.schedule_definitions import active_schedules
from survey.staff_areas import Area


@bp.route("/enrol/list", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def enrol_list_page():
    """Upload a list (preview), then confirm to enrol its good rows in one transaction. The
    list travels back with the confirmation and is checked again: what is enrolled is what
    the coordinator saw, as the database is at that moment."""
    schedules = active_schedules(db.session)
    db.session.commit()  # the shipped default schedule, stored on first use
    sites = g.user.sites
    site = _chosen_site(sites)
    if request.method == "GET" or site is None:
        return _page(sites, site, schedules)
    try:
        data = _posted_list()
        rows = check_list(db.session, site, data, schedules, schedules[0] if schedules else None)
    except ListRefused as refused:
        return _page(sites, site, schedules, refused=str(refused)), 422
    if request.form.get("action") != "enrol":
        audit_trail.log("patients.list_preview", site_id=site.id, detail={"rows": len(rows)})
        db.session.commit()
        return _page(sites, site, schedules, rows=rows, data=data.decode("utf-8-sig"))
    now = utcnow()
    try:
        enrolled = enrol_list(db.session, site, rows, now, sending_rules())
    except EnrolmentError as error:
        db.session.rollback()
        return _page(sites, site, schedules, rows=rows, refused=str(error)), 422
    db.session.flush()
    audit_trail.log(
        "patients.list_enrol",
        site_id=site.id,
        detail={
            "enrolled": [patient.id for patient, _changes in enrolled],
            "skipped": sum(row.already_enrolled for row in rows),
            "refused": sum(bool(row.problems) for row in rows),
        },
    )
    db.session.commit()
    flash(ngettext("%(num)d patient is enrolled.", "%(num)d patients are enrolled.", len(enrolled)))
    return redirect(url_for("coordinate.index"))


def _chosen_site(sites):
    wanted = request.form.get("site_id", type=int) if request.method == "POST" else None
    if wanted is None:
        return sites[0] if sites else None
    return next((site for site in sites if site.id == wanted), None)


def _posted_list() -> bytes:
    upload = request.files.get("list")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_BYTES + 1)
    else:
        data = request.form.get("data", "").encode("utf-8")
    if not data:
        raise ListRefused(_("Choose the CSV file of the list."))
    return data


def _page(sites, site, schedules, rows=None, data="", refused=None):
    return render_template(
        "coordinate/enrol_list.html",
        sites=sites,
        site=site,
        schedules=schedules,
        rows=rows,
        data=data,
        refused=refused,
        columns=COLUMNS,
        max_rows=MAX_ROWS,
        ready=[row for row in rows or [] if row.ready],
        skipped=[row for row in rows or [] if row.already_enrolled],
        refused_rows=[row for row in rows or [] if row.problems],
    )
