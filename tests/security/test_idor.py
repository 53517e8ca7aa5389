"""Another site's records are out of reach: every staff route that takes an id (found in the
url_map, so new routes are swept too) answers 404 for another site's record, for every role,
and changes nothing; no list or export shows another site's patient."""

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.models import Invitation, Message, Patient, Reply, Site, TriageItem, User
from tests.fixtures.security import ROLES, any_choices, follow, staff_rules

# Ids of records shared by every site by design (schedules are the service's follow-up plans,
# managed by admins): no site owns them, so there is nothing to isolate.
SHARED_BY_ALL_SITES = {"schedule_id"}


def snapshot(ids: dict[str, int]) -> list:
    """Every column of the patient, their invitations, messages, triage items and replies, of the
    site's staff account and of the site, to compare after a sweep."""
    db.session.expire_all()
    patient_id = ids["patient_id"]
    rows = [
        db.session.get(Patient, patient_id),
        db.session.get(User, ids["user_id"]),
        db.session.get(Site, ids["site_id"]),
    ]
    rows += db.session.scalars(select(Invitation).where(Invitation.patient_id == patient_id))
    rows += db.session.scalars(select(Message).where(Message.patient_id == patient_id))
    rows += db.session.scalars(select(TriageItem).where(TriageItem.patient_id == patient_id))
    rows += db.session.scalars(select(Reply).where(Reply.patient_id == patient_id))
    return [
        {column.key: getattr(row, column.key) for column in row.__table__.columns} for row in rows
    ]


def urls(rule, ids: dict[str, int]) -> list[str]:
    """The rule's path with every id filled in, once per choice of each any(...) part."""
    paths = [rule.rule]
    for name, choices in any_choices(rule).items():
        pattern = next(part for part in rule.rule.split("/") if f"):{name}>" in part)
        paths = [path.replace(pattern, choice) for path in paths for choice in choices]
    for name in rule.arguments:
        if name in ids:
            paths = [path.replace(f"<int:{name}>", str(ids[name])) for path in paths]
    return paths


@pytest.fixture
def two_sites(site, other_site, make_user):
    ours = follow(site, "OURS-1", "+34612345678")
    theirs = follow(other_site, "THEIRS-9", "+905321234567")
    ours["user_id"] = make_user("clinician", [site]).id
    theirs["user_id"] = make_user("clinician", [other_site]).id
    ours["site_id"], theirs["site_id"] = site.id, other_site.id
    return ours, theirs


def test_every_staff_route_with_an_id_answers_404_for_another_sites_record(
    app, sign_in, site, two_sites
):
    ours, theirs = two_sites
    before = snapshot(theirs)
    swept = []
    for role in ROLES:
        staff = sign_in(role, [site])
        token = staff.csrf()
        for rule in staff_rules(app):
            id_args = {name for name in rule.arguments if name.endswith("_id")}
            if not id_args or id_args & SHARED_BY_ALL_SITES:
                continue
            unknown = id_args - theirs.keys()
            assert not unknown, f"{rule.rule}: make another site's record for {unknown}"
            for method in sorted(rule.methods & {"GET", "POST"}):
                for foreign, own in zip(urls(rule, theirs), urls(rule, ours), strict=True):
                    send = getattr(staff.client, method.lower())
                    kwargs = {"data": {"csrf_token": token}} if method == "POST" else {}
                    status = send(foreign, **kwargs).status_code
                    if status == 403:
                        # Only where the role may not use the route at all, for any site.
                        assert send(own, **kwargs).status_code == 403, (role, method, foreign)
                    else:
                        assert status == 404, (role, method, foreign, status)
                    swept.append((role, method, rule.endpoint))
    assert swept, "no staff route with an id was found"
    assert snapshot(theirs) == before


def test_no_staff_list_or_page_without_an_id_shows_another_sites_patient(
    app, sign_in, site, two_sites
):
    shown = {role: [] for role in ROLES}
    for role in ROLES:
        staff = sign_in(role, [site])
        for rule in staff_rules(app):
            if "GET" in rule.methods and not rule.arguments:
                page = staff.client.get(rule.rule)
                # A page is shown, sends elsewhere, or is not this role's: never a failure
                # whose body would say nothing either way.
                assert page.status_code in (200, 302, 303, 403), (role, rule.rule, page.status_code)
                assert "THEIRS-9" not in page.text, (role, rule.rule)
                assert "905321234567" not in page.text, (role, rule.rule)
                if page.status_code == 200:
                    shown[role].append(page.text)
    for role, pages in shown.items():
        assert pages, f"no page without an id was shown to a {role}"
    # The check can fail: the same sweep finds the user's own site's patient.
    assert any("OURS-1" in page for page in shown["coordinator"] + shown["clinician"])


@pytest.mark.parametrize("kind", ["long", "wide", "fhir"])
def test_exports_hold_only_the_users_sites(app, sign_in, site, other_site, two_sites, kind):
    staff = sign_in("clinician", [site])
    token = staff.csrf()
    mine = staff.client.post(f"/clinic/exports/{kind}", data={"csrf_token": token})
    assert mine.status_code == 200
    body = mine.get_data(as_text=True)
    assert "OURS-1" in body and "THEIRS-9" not in body
    theirs = staff.client.post(
        f"/clinic/exports/{kind}", data={"csrf_token": token, "site": str(other_site.id)}
    )
    assert theirs.status_code == 400
    assert "THEIRS-9" not in theirs.get_data(as_text=True)


def test_a_user_of_both_sites_sees_both(app, sign_in, site, other_site, two_sites):
    ours, theirs = two_sites
    staff = sign_in("clinician", [site, other_site])
    assert staff.client.get(f"/clinic/patients/{theirs['patient_id']}").status_code == 200
