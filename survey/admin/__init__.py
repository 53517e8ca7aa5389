"""Administration pages under /clinic/admin/: for now, the read-only audit log."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/clinic/admin")

from survey.admin import views  # noqa: E402,F401  (registers the routes on bp)
