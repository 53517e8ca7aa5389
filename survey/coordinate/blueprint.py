"""The coordinator pages' blueprint, which the view modules of this package add routes to."""

from flask import Blueprint

from survey.coordinate.common import coordinator_helpers

bp = Blueprint("coordinate", __name__, url_prefix="/clinic/follow-up", static_folder="static")
bp.context_processor(coordinator_helpers)
