"""Admin pages: thin; the audit trail query lives in audit_log.py. Nothing here changes data
(the staff page, which does, is staff.py)."""

import json

from flask import g, render_template, request

from survey.admin.audit_log import audit_page, parse_filters
from survey.admin.blueprint import bp
from survey.auth import staff_required
from survey.clinic.labels import WORDING_STATUS
from survey.domain.languages import language_statuses
from survey.extensions import db
from survey.i18n import language_name
from survey.settings import settings
from survey.staff_areas import Area


@bp.route("/")
@staff_required(Area.ADMINISTRATION)
def index():
    """What an admin can look after here."""
    return render_template("admin/index.html")


@bp.route("/audit")
@staff_required(Area.ADMINISTRATION)
def audit():
    """Who viewed, exported and changed what, when: newest first, filtered, read-only."""
    filters = parse_filters(request.args)
    page = audit_page(db.session, g.user, filters, settings().audit_page_size)
    return render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        as_json=lambda detail: json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )


@bp.route("/languages")
@staff_required(Area.STAFF)
def languages():
    """Each language: how complete its interface catalog is, each questionnaire's wording in
    it and that wording's status, and whether staff and patients are offered it. Service-wide
    facts about files, no patient data: every role may read them."""
    return render_template(
        "admin/languages.html",
        statuses=language_statuses(db.session),
        wording_labels=WORDING_STATUS,
        language_name=language_name,
    )
