"""Stored hostile text in headless Chromium: every staff page (found in the url_map) and the
patient pages, with script payloads in every free-text field the database holds. No script
runs, no element comes from the data, and the Content-Security-Policy reports nothing."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from survey.domain import audit_trail
from survey.extensions import db
from survey.models import Patient, Reply, Schedule
from tests.conftest import PASSWORD
from tests.fixtures.security import follow
from tests.security import crawl

pytestmark = pytest.mark.browser

VISITOR = Path(__file__).with_name("chromium_visit.py")
# Each payload sets window.__xss if it ever runs; none should be found in the DOM either.
PAYLOADS = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    '"><svg onload="window.__xss=\'svg\'">',
    "'><iframe src=javascript:window.top.__xss='iframe'>",
    "</title><script>window.__xss='title'</script>",
    "{{7*191}}",
]
# Inline code in other packages' templates, which the CSP blocks (reported to their owners).
KNOWN_CSP_REPORTS: dict[str, str] = {}


def in_chromium(base: str, paths: list[str], login: dict | None = None, phone=False) -> dict:
    """Visit the paths in a Chromium of its own process (see chromium_visit.py)."""
    pytest.importorskip("playwright.sync_api")
    if not os.access("/usr/bin/chromium", os.X_OK):
        pytest.skip("browser tests need Chromium at /usr/bin/chromium (apt-get install chromium)")
    job = {
        "base": base,
        "paths": paths,
        "login": login,
        "viewport": {"width": 360, "height": 740} if phone else {"width": 1280, "height": 900},
    }
    done = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, str(VISITOR)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture
def hostile_world(app, site, make_user):
    """A site, patients, a reply, a schedule and an audit trail whose text is all payloads."""
    site.name = "Clinic " + PAYLOADS[0]
    site.contact = PAYLOADS[1]
    ids = follow(site, PAYLOADS[2][:64], "+34612340077")
    follow(site, PAYLOADS[3][:64], "+34612340078")
    db.session.get(Reply, ids["reply_id"]).body = " ".join(PAYLOADS)  # on Needs attention
    db.session.add(Schedule(name=PAYLOADS[4][:80], description=" ".join(PAYLOADS)))
    admin = make_user("admin", [site], email="admin@clinic.example")
    audit_trail.record(db.session, "login.failed", detail={"email": PAYLOADS[1]}, site_id=site.id)
    db.session.commit()
    ids["schedule_id"] = db.session.scalar(db.select(Schedule.id).order_by(Schedule.id.desc()))
    ids["kind"] = "long"
    return ids, admin


def staff_paths(app, ids) -> dict[str, str]:
    """path -> endpoint, for every staff page of the url_map."""
    paths = {}
    for rule in crawl.get_rules(app):
        if rule.endpoint.startswith(("patient.", "operations.", "auth.login")):
            continue
        for path in crawl.paths_for(rule, ids):
            paths[path] = rule.endpoint
    return paths


def test_no_stored_payload_runs_on_any_staff_page(live_server, app, hostile_world):
    ids, admin = hostile_world
    paths = staff_paths(app, ids)
    report = in_chromium(live_server, list(paths), {"email": admin.email, "password": PASSWORD})
    assert report["dialogs"] == []
    visited, csp = set(), {}
    for result in report["results"]:
        endpoint = paths[result["path"]]
        assert result["xss"] is None, result
        assert result["found"] == [], result
        assert not result["evaluated"], result
        if result["status"] == 200:
            visited.add(endpoint)
        if result["csp"]:
            csp[endpoint] = result["csp"][0]
    assert {"clinic.index", "clinic.patient", "coordinate.index", "admin.audit"} <= visited
    for endpoint in sorted(csp.keys() & KNOWN_CSP_REPORTS.keys()):
        warnings.warn(
            f"known CSP report on {endpoint}: {KNOWN_CSP_REPORTS[endpoint]}", stacklevel=1
        )
    assert {e: text for e, text in csp.items() if e not in KNOWN_CSP_REPORTS} == {}


def test_no_stored_payload_runs_on_the_patient_pages(live_server, app, site, invite):
    site.name = "Clinic " + PAYLOADS[0]
    site.contact = PAYLOADS[1]
    db.session.commit()
    patient = follow(site, "P-XSS", "+34612340099")
    link = invite(db.session.get(Patient, patient["patient_id"]))
    paths = [link.path, "/survey/1", "/survey/2", "/s/" + "A" * 22]
    report = in_chromium(live_server, paths, phone=True)
    assert report["dialogs"] == []
    for result in report["results"]:
        assert result["found"] == [] and result["xss"] is None, result
        assert not result["evaluated"] and result["csp"] == [], result
    # The payload was on the pages, shown as the text it is.
    assert "Clinic " + PAYLOADS[0] in [result["brand"] for result in report["results"]]
