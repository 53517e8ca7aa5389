"""Who may use the worklist and its steps: clinicians and admins of the item's site; another
site's item answers 404 like one that does not exist; every step needs the page's token."""

import pytest

from survey.extensions import db
from survey.models import TriageItem, TriageStatus
from tests.conftest import StaffActions, csrf_from
from tests.fixtures.triage import RELAPSE, items_of, submit_history, trail

STEPS = ("take", "outcome", "close")


@pytest.fixture
def open_item(site, make_patient):
    patient = make_patient(site, reference="OURS-OPEN")
    submit_history(patient, RELAPSE)
    return next(item for item in items_of(patient) if item.status == TriageStatus.OPEN)


@pytest.fixture
def their_item(other_site, make_patient):
    patient = make_patient(
        other_site, reference="THEIRS-OPEN", language="tr", phone="+905321234567"
    )
    submit_history(patient, RELAPSE)
    return next(item for item in items_of(patient) if item.status == TriageStatus.OPEN)


def columns(item_id: int) -> dict:
    db.session.expire_all()
    item = db.session.get(TriageItem, item_id)
    return {column.key: getattr(item, column.key) for column in item.__table__.columns}


def signed_in(app, make_user, role, sites):
    client = app.test_client()
    StaffActions(client).login(make_user(role, sites).email)
    return client


@pytest.mark.parametrize("role", ["admin", "clinician"])
def test_another_sites_item_and_its_steps_are_not_found(
    app, make_user, site, open_item, their_item, role
):
    client = signed_in(app, make_user, role, [site])
    before = columns(their_item.id)
    token = csrf_from(client.get("/clinic/worklist").text)
    assert client.get(f"/clinic/worklist/{their_item.id}").status_code == 404
    assert client.get(f"/clinic/worklist/{their_item.id + 1000}").status_code == 404
    for step in STEPS:
        response = client.post(
            f"/clinic/worklist/{their_item.id}/{step}",
            data={"csrf_token": token, "assignee": "", "outcome": "called"},
        )
        assert response.status_code == 404, step
    assert columns(their_item.id) == before
    assert [action for action, _ in trail(their_item.id)] == ["triage.assessed"]
    page = client.get("/clinic/worklist").text
    assert "OURS-OPEN" in page and "THEIRS-OPEN" not in page
    assert "THEIRS-OPEN" not in client.get("/clinic/worklist?view=closed").text


def test_staff_of_both_sites_see_both(app, make_user, site, other_site, open_item, their_item):
    client = signed_in(app, make_user, "clinician", [site, other_site])
    page = client.get("/clinic/worklist").text
    assert "OURS-OPEN" in page and "THEIRS-OPEN" in page
    assert page.index(site.name) != page.index(other_site.name)  # a section per site
    only_theirs = client.get(f"/clinic/worklist?site={other_site.id}").text
    assert "THEIRS-OPEN" in only_theirs and "OURS-OPEN" not in only_theirs


def test_coordinators_do_not_use_the_worklist(app, make_user, site, open_item):
    client = signed_in(app, make_user, "coordinator", [site])
    token = csrf_from(client.get("/account").text)
    assert client.get("/clinic/worklist").status_code == 403
    assert client.get(f"/clinic/worklist/{open_item.id}").status_code == 403
    before = columns(open_item.id)
    for step in STEPS:
        response = client.post(
            f"/clinic/worklist/{open_item.id}/{step}", data={"csrf_token": token, "assignee": ""}
        )
        assert response.status_code == 403
    assert columns(open_item.id) == before
    assert "/clinic/worklist" not in client.get("/clinic/").text  # not in the navigation


def test_a_visitor_is_sent_to_sign_in_and_a_post_without_token_is_refused(client, open_item):
    response = client.get(f"/clinic/worklist/{open_item.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    before = columns(open_item.id)
    for step in STEPS:
        assert client.post(f"/clinic/worklist/{open_item.id}/{step}").status_code == 400
    assert columns(open_item.id) == before


def test_a_signed_in_clinicians_step_without_the_pages_token_is_refused(
    app, make_user, site, open_item
):
    client = signed_in(app, make_user, "clinician", [site])
    before = columns(open_item.id)
    for step in STEPS:
        response = client.post(f"/clinic/worklist/{open_item.id}/{step}", data={"assignee": ""})
        assert response.status_code == 400 and "This form has expired" in response.text
    other_token = signed_in(app, make_user, "clinician", [site]).get("/account").text
    response = client.post(
        f"/clinic/worklist/{open_item.id}/take",
        data={"assignee": "", "csrf_token": csrf_from(other_token)},  # someone else's token
    )
    assert response.status_code == 400
    assert columns(open_item.id) == before


@pytest.mark.parametrize("seen", ["abc", "1e3", "-1", "١", "9" * 40])
def test_a_tampered_take_is_refused(app, make_user, site, open_item, seen):
    client = signed_in(app, make_user, "clinician", [site])
    token = csrf_from(client.get("/clinic/worklist").text)
    response = client.post(
        f"/clinic/worklist/{open_item.id}/take", data={"csrf_token": token, "assignee": seen}
    )
    assert response.status_code in (400, 409)
    assert columns(open_item.id)["assignee_id"] is None


def test_the_navigation_shows_the_worklist_to_clinicians(app, make_user, site):
    client = signed_in(app, make_user, "clinician", [site])
    assert 'href="/clinic/worklist"' in client.get("/clinic/").text
