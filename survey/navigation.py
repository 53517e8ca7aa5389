"""The staff navigation bar: each page, shown to exactly the staff its view lets in.

Who may use a page is the area its view's `staff_required(area)` names (survey/staff_areas.py);
the bar reads it from the view, so a link is never shown to someone the page would refuse, nor
hidden from someone it would let in. A page shows once its blueprint is registered."""

from flask import Flask, current_app, g
from flask_babel import lazy_gettext as _l

from survey.auth import staff_area
from survey.staff_areas import may_use

# (endpoint, label), in the bar's order
STAFF_PAGES = [
    ("clinic.index", _l("Results")),
    ("clinic.worklist_index", _l("Worklist")),
    ("coordinate.index", _l("Follow-up")),
    ("coordinate.attention", _l("Needs attention")),
    ("clinic.exports", _l("Exports")),
    ("clinic.analytics", _l("Completion")),
    ("admin.index", _l("Administration")),
    ("outreach.dev_outbox", _l("SMS outbox")),
    ("auth.account", _l("Your account")),
]


def staff_pages() -> list[tuple[str, str]]:
    """(endpoint, label) for the signed-in user's navigation bar."""
    user = g.get("user")
    if user is None:
        return []
    views = current_app.view_functions
    return [
        (endpoint, label)
        for endpoint, label in STAFF_PAGES
        if endpoint in views and _lets_in(views[endpoint], user.role)
    ]


def _lets_in(view, role: str) -> bool:
    area = staff_area(view)
    return area is not None and may_use(role, area)


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"staff_pages": staff_pages})
