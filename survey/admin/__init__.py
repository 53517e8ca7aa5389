"""Administration pages under /clinic/admin/: the read-only audit log, the staff page and
each site's triage rules."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/clinic/admin")

from survey.admin import sites, staff_page, triage, views  # noqa: E402,F401  (registers the routes on bp)
