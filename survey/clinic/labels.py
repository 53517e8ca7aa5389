"""Words for the codes the clinic pages show: statuses, wording statuses, directions."""

from flask_babel import lazy_gettext as _l

TIMEPOINT_STATUS = {
    "completed": _l("Completed"),
    "partial": _l("Partly answered"),
    "open": _l("Open now"),
    "upcoming": _l("Upcoming"),
    "missed": _l("Missed"),
    "cancelled": _l("Cancelled"),
}

WORDING_STATUS = {
    "validated": _l("Validated wording"),
    "unvalidated translation": _l("Unvalidated translation"),
    "provisional": _l("Provisional wording"),
}

# How the answers were given (survey.models.ResponseMode).
RESPONSE_MODE = {
    "web": _l("answered on their phone"),
    "tablet": _l("answered on a clinic tablet"),
    "paper": _l("given on paper"),
    "phone": _l("given by phone"),
}

PATIENT_STATUS = {
    "active": _l("Active"),
    "paused": _l("Paused"),
    "withdrawn": _l("Withdrawn"),
}


def label(mapping: dict, code: str | None) -> str:
    """The words for `code`, or the code itself when there are none."""
    if code is None:
        return ""
    return str(mapping.get(code, code))
