"""Roles live in one table (survey/staff_areas.py): the navigation bar shows a page to exactly
the staff its view's `staff_required` lets in."""

import re

from flask import url_for

from survey.auth import staff_area
from survey.navigation import STAFF_PAGES
from survey.staff_areas import ROLES, Area, home_page, may_use
from tests.conftest import StaffActions

ROLE_NAMES = ("admin", "clinician", "coordinator")


def test_every_page_in_the_navigation_is_guarded_by_an_area(app):
    areas = {endpoint: staff_area(app.view_functions[endpoint]) for endpoint, _ in STAFF_PAGES}
    assert len(areas) == len(STAFF_PAGES) == 9  # the test app has every page, the outbox too
    assert all(isinstance(area, Area) for area in areas.values()), areas
    assert areas["admin.index"] is Area.ADMINISTRATION
    assert areas["clinic.worklist_index"] is Area.CLINICAL
    assert areas["coordinate.index"] is Area.FOLLOW_UP
    assert areas["auth.account"] is Area.STAFF


def test_every_area_names_roles_and_every_role_has_its_own_account_page():
    assert set(ROLES) == set(Area)
    assert {str(role) for role in ROLES[Area.STAFF]} == set(ROLE_NAMES)
    assert all(ROLES[area] <= ROLES[Area.STAFF] for area in Area)


def test_the_navigation_links_exactly_the_pages_each_role_may_open(app, make_user, site):
    with app.test_request_context():
        paths = {endpoint: url_for(endpoint) for endpoint, _ in STAFF_PAGES}
    checked = 0
    for role in ROLE_NAMES:
        client = app.test_client()
        assert StaffActions(client).login(make_user(role, [site]).email).status_code == 302
        page = client.get("/account")
        assert page.status_code == 200
        nav = re.search(r"<nav aria-label=[^>]*>(.*?)</nav>", page.text, re.S).group(1)
        linked = set(re.findall(r'href="([^"]+)"', nav))
        for endpoint, path in paths.items():
            status = client.get(path).status_code
            assert status in (200, 403), (role, endpoint, status)
            assert (path in linked) == (status == 200), (role, endpoint, status)
            checked += 1
    assert checked == len(ROLE_NAMES) * len(STAFF_PAGES)


def test_only_those_who_may_change_schedules_and_texts_see_the_controls(app, make_user, site):
    controls = {
        "/clinic/follow-up/schedules": "/clinic/follow-up/schedules/new",
        "/clinic/follow-up/texts": "Name in text messages",
    }
    for role, shown in (("coordinator", False), ("admin", True)):
        client = app.test_client()
        assert StaffActions(client).login(make_user(role, [site]).email).status_code == 302
        for path, control in controls.items():
            page = client.get(path)
            assert page.status_code == 200, (role, path)
            assert (control in page.text) is shown, (role, path)


def test_each_role_lands_on_the_first_page_its_areas_open(app, make_user, site):
    """The home page after signing in comes from the areas (survey/staff_areas.py), not from
    role names: a coordinator's day starts with follow-up, everyone else's with the clinic."""
    expected = {"admin": "/clinic/", "clinician": "/clinic/", "coordinator": "/clinic/follow-up/"}
    for role in ROLE_NAMES:
        endpoint = home_page(role)
        assert may_use(role, staff_area(app.view_functions[endpoint]))
        client = app.test_client()
        signed_in = StaffActions(client).login(make_user(role, [site]).email)
        assert signed_in.status_code == 302
        assert signed_in.headers["Location"] == expected[role]
    assert len(expected) == len(ROLE_NAMES)
