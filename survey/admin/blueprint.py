"""The administration pages' blueprint, which the view modules of this package add routes to."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/clinic/admin")
