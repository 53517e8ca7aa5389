"""Administration pages under /clinic/admin/: the read-only audit log and the staff page."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/clinic/admin")

from survey.admin import staff, views  # noqa: E402,F401  (registers the routes on bp)
