"""An admin sets their site's own triage rules: levels, thresholds, due times and what
patients read after asking to be contacted. Checked, audited, and used from then on."""

import pytest
from sqlalchemy import select

from survey.domain.triage.assessing import rules_for
from survey.extensions import db
from survey.models import AuditEvent, TriageSettings
from tests.conftest import StaffActions, csrf_from, logged_by
from tests.fixtures.triage import items_of, submit_history

DEFAULTS = {
    "level-ccis-deterioration": "yellow",
    "level-qolaf-worse-band": "yellow",
    "level-qol-better-continence-worse": "yellow",
    "level-ccis-pad-only": "yellow",
    "points-ccis-deterioration": "",
    "points-qol-better-continence-worse": "",
    "due-yellow": "72",
    "due-red": "24",
    "reply-en": "",
    "reply-es": "",
    "reply-tr": "",
}


@pytest.fixture
def admin_client(app, make_user, site):
    client = app.test_client()
    StaffActions(client).login(make_user("admin", [site]).email)
    return client


def save(client, site, **changes):
    token = csrf_from(client.get("/clinic/admin/triage").text)
    form = {**DEFAULTS, **changes, "site_id": str(site.id), "csrf_token": token}
    return client.post("/clinic/admin/triage", data=form)


def test_the_page_shows_every_rule_with_its_source(admin_client, site):
    page = admin_client.get("/clinic/admin/triage").text
    for rule in (
        "ccis-deterioration",
        "qolaf-worse-band",
        "qol-better-continence-worse",
        "ccis-pad-only",
        "contact-request",
    ):
        assert f'data-rule="{rule}"' in page
    assert "Bols EM, et al. Int Urogynecol J 2013;24(3):469-78" in page
    assert "is an extrapolation" in page
    assert "request is never switched off" in page
    assert 'name="level-contact-request"' not in page  # fixed: no field to change it


def test_an_admin_quietens_a_rule_and_the_next_submit_follows_it(admin_client, site, make_patient):
    saved = save(
        admin_client,
        site,
        **{
            "level-qolaf-worse-band": "off",
            "level-ccis-deterioration": "red",
            "points-ccis-deterioration": "5",
            "due-red": "8",
            "reply-es": "  Le llamará la enfermera de la unidad en 48 horas.  ",
        },
    )
    assert saved.status_code == 303
    settings = db.session.get(TriageSettings, site.id)
    assert settings.rules == {
        "qolaf-worse-band": {"level": "off", "points": None},
        "ccis-deterioration": {"level": "red", "points": 5},
    }
    assert settings.due_hours == {"red": 8}
    assert settings.contact_reply == {"es": "Le llamará la enfermera de la unidad en 48 horas."}
    rules = rules_for(db.session, site.id)
    assert rules.rule("qolaf-worse-band").level is None
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "triage.settings"))
    assert event.site_id == site.id and event.detail["due_hours"] == {"red": 8}

    patient = make_patient(site, reference="AFTER")
    submit_history(
        patient,
        [("baseline", 51, (2,) * 5), ("6 months", 28, (0,) * 5), ("12 months", 51, (2,) * 5)],
    )
    relapse = items_of(patient)[-1]
    assert str(relapse.level) == "red"
    assert [f["rule"] for f in relapse.findings] == ["ccis-deterioration"]
    assert (relapse.due_at - relapse.assessed_at).total_seconds() == 8 * 3600
    page = admin_client.get("/clinic/admin/triage").text
    assert 'value="5"' in page and "Le llamará la enfermera" in page


def test_saving_the_defaults_stores_no_override(admin_client, site):
    assert save(admin_client, site).status_code == 303
    settings = db.session.get(TriageSettings, site.id)
    assert (settings.rules, settings.due_hours, settings.contact_reply) == ({}, {}, {})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"level-ccis-pad-only": "purple"}, "Choose a level for every rule."),
        ({"points-ccis-deterioration": "0"}, "Points are a whole number from 1 to 20"),
        ({"points-ccis-deterioration": "2.5"}, "Points are a whole number from 1 to 20"),
        ({"points-ccis-deterioration": "٣"}, "Points are a whole number from 1 to 20"),
        ({"due-red": ""}, "Due times are whole hours from 1 to 720."),
        ({"due-yellow": "9999"}, "Due times are whole hours from 1 to 720."),
        ({"reply-en": "x" * 501}, "at most 500 characters"),
        ({"reply-tr": "a\u202eb"}, "no control characters"),
    ],
)
def test_settings_that_cannot_be_used_are_refused_whole(admin_client, site, changes, message):
    response = save(admin_client, site, **{**changes, "due-red": changes.get("due-red", "6")})
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert db.session.get(TriageSettings, site.id) is None  # nothing saved, not even due-red
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "triage.settings")
    ).all()


def test_a_post_this_page_never_sends_is_refused(admin_client, site):
    response = save(admin_client, site, **{"level-contact-request": "off"})
    assert response.status_code == 400
    assert db.session.get(TriageSettings, site.id) is None


def test_another_sites_rules_cannot_be_set(admin_client, other_site):
    response = save(admin_client, other_site, **{"level-ccis-pad-only": "off"})
    assert response.status_code == 404
    assert db.session.get(TriageSettings, other_site.id) is None
    assert other_site.name not in admin_client.get("/clinic/admin/triage").text


@pytest.mark.parametrize("role", ["clinician", "coordinator"])
def test_only_admins_set_rules(app, make_user, site, role):
    client = app.test_client()
    StaffActions(client).login(make_user(role, [site]).email)
    token = csrf_from(client.get("/account").text)
    assert client.get("/clinic/admin/triage").status_code == 403
    response = client.post(
        "/clinic/admin/triage", data={**DEFAULTS, "site_id": str(site.id), "csrf_token": token}
    )
    assert response.status_code == 403
    assert db.session.get(TriageSettings, site.id) is None


def test_a_save_without_the_pages_token_is_refused(admin_client, site):
    response = admin_client.post("/clinic/admin/triage", data={**DEFAULTS, "site_id": str(site.id)})
    assert response.status_code == 400
    assert db.session.get(TriageSettings, site.id) is None


def test_stored_settings_that_no_longer_fit_fall_back_to_the_shipped_rules(site, caplog):
    db.session.add(TriageSettings(site_id=site.id, rules={"retired-rule": {"level": "red"}}))
    db.session.commit()
    with logged_by(caplog, "survey.triage.assessing"):
        rules = rules_for(db.session, site.id)
    assert rules.rule("ccis-deterioration").level == "yellow"
    assert "triage settings ignored" in caplog.text


@pytest.mark.parametrize("site_id", ["⁰⁴⁵", "١", "", "1 OR 1=1", "99999999999999999999999"])
def test_a_site_id_that_is_no_number_of_ours_is_not_found(admin_client, site, site_id):
    token = csrf_from(admin_client.get("/clinic/admin/triage").text)
    response = admin_client.post(
        "/clinic/admin/triage", data={**DEFAULTS, "site_id": site_id, "csrf_token": token}
    )
    assert response.status_code == 404
    assert db.session.get(TriageSettings, site.id) is None
