"""The sign-in and own-account pages' blueprint, which the view modules of this package add
routes to."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
