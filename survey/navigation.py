"""The staff navigation bar: each page a role may use, once its blueprint is registered."""

from flask import Flask, current_app, g
from flask_babel import lazy_gettext as _l

from survey.models import Role

ALL_STAFF = (Role.ADMIN, Role.CLINICIAN, Role.COORDINATOR)

# (endpoint, label, roles that see it)
STAFF_PAGES = [
    ("clinic.index", _l("Results"), ALL_STAFF),
    ("clinic.worklist_index", _l("Worklist"), (Role.ADMIN, Role.CLINICIAN)),
    ("coordinate.index", _l("Follow-up"), (Role.ADMIN, Role.COORDINATOR)),
    ("coordinate.attention", _l("Needs attention"), (Role.ADMIN, Role.COORDINATOR)),
    ("clinic.exports", _l("Exports"), (Role.ADMIN, Role.CLINICIAN)),
    ("clinic.analytics", _l("Completion"), (Role.ADMIN, Role.CLINICIAN)),
    ("admin.index", _l("Administration"), (Role.ADMIN,)),
    ("outreach.dev_outbox", _l("SMS outbox"), ALL_STAFF),
    ("auth.account", _l("Your account"), ALL_STAFF),
]


def staff_pages() -> list[tuple[str, str]]:
    """(endpoint, label) for the signed-in user's navigation bar."""
    user = g.get("user")
    if user is None:
        return []
    available = current_app.view_functions
    return [
        (endpoint, label)
        for endpoint, label, roles in STAFF_PAGES
        if endpoint in available and user.role in roles
    ]


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"staff_pages": staff_pages})
