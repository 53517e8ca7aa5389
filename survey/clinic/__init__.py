"""Staff pages under /clinic/: patient lists and results for clinicians and coordinators."""

from flask import Blueprint

bp = Blueprint("clinic", __name__, url_prefix="/clinic")

from survey.clinic import views  # noqa: E402,F401  (registers the routes on bp)
