"""Who may use which staff pages: the one table that the views' decorator
(`survey.auth.staff_required(area)`) and the navigation bar (survey/navigation.py) both read.

A page belongs to one area; to change who may use it, change its area here or the view's
`staff_required(...)`, never the navigation."""

import enum

from survey.models import Role


class Area(enum.StrEnum):
    # Every signed-in member of staff: patients' results, one's own account, the languages
    # page, the development SMS outbox.
    STAFF = "staff"
    # Clinical follow-up: the worklist, exports and completion figures.
    CLINICAL = "clinical"
    # Coordinators' pages: enrolment, invitations, messages, schedules and texts.
    FOLLOW_UP = "follow-up"
    # Administration, and the changes only an administrator makes elsewhere (schedules,
    # the SMS sender name).
    ADMINISTRATION = "administration"


ROLES: dict[Area, frozenset[Role]] = {
    Area.STAFF: frozenset(Role),
    Area.CLINICAL: frozenset({Role.ADMIN, Role.CLINICIAN}),
    Area.FOLLOW_UP: frozenset({Role.ADMIN, Role.COORDINATOR}),
    Area.ADMINISTRATION: frozenset({Role.ADMIN}),
}


# Where staff land after signing in: the page of the first area here that their role may use.
HOME_PAGES: tuple[tuple[Area, str], ...] = (
    (Area.CLINICAL, "clinic.index"),
    (Area.FOLLOW_UP, "coordinate.index"),
    (Area.STAFF, "clinic.index"),
)


def home_page(role: str) -> str:
    """The endpoint of the page staff of this role see first after signing in."""
    return next(endpoint for area, endpoint in HOME_PAGES if may_use(role, area))


def may_use(role: str, area: Area) -> bool:
    """Whether staff of this role may use the pages of this area."""
    return role in ROLES[area]
