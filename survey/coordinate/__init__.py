"""Coordinator pages under /clinic/follow-up/: enrolment, schedules, and delivery of the SMS
invitations, with a queue of messages that need a person."""

from flask import Blueprint

bp = Blueprint("coordinate", __name__, url_prefix="/clinic/follow-up", static_folder="static")

from survey.coordinate import answering, enrol_list, messages, patients, schedules  # noqa: E402,F401  (routes on bp)
