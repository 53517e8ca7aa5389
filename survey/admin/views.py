"""Admin pages: thin; the audit trail query lives in audit_log.py. Nothing here changes data
(the staff page, which does, is staff.py)."""

import json

from flask import current_app, g, render_template, request

from survey.admin import bp
from survey.admin.audit_log import audit_page, parse_filters
from survey.auth import staff_required
from survey.extensions import db
from survey.models import Role


@bp.route("/")
@staff_required(Role.ADMIN)
def index():
    """What an admin can look after here."""
    return render_template("admin/index.html")


@bp.route("/audit")
@staff_required(Role.ADMIN)
def audit():
    """Who viewed, exported and changed what, when: newest first, filtered, read-only."""
    filters = parse_filters(request.args)
    page = audit_page(db.session, g.user, filters, int(current_app.config["AUDIT_PAGE_SIZE"]))
    return render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        as_json=lambda detail: json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )
