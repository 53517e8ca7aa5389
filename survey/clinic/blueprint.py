"""The clinicians' pages' blueprint, which the view modules of this package add routes to."""

from flask import Blueprint

# The clinic's own stylesheet (charts, list, print layout) is served at /clinic/static/.
bp = Blueprint("clinic", __name__, url_prefix="/clinic", static_folder="static")
