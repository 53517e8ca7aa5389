"""Completion analytics checked against a history whose figures are worked out by hand
(tests/clinic/analytics_data.py), and the page and its CSV: who may see them, audited."""

import csv
import io

import pytest
from sqlalchemy import select

from survey.domain.analytics import completion_figures
from survey.extensions import db
from survey.models import AuditEvent, InvitationStatus
from tests.clinic.analytics_data import NOW, H, at, invitation, seed, seed_modes, text
from tests.fixtures import security

sign_in = security.sign_in  # the security tests' fixture: staff signed in on a client


@pytest.fixture
def seeded(make_patient, site, other_site):
    seed(make_patient, site, other_site)
    return site


def by_key(tallies):
    return {t.key: (t.invitations, t.completed, t.expired, t.rate) for t in tallies}


def test_the_figures_match_the_hand_counted_history(seeded):
    figures = completion_figures(db.session, [seeded.id], NOW)
    totals = figures.totals
    assert (totals.invitations, totals.texted, totals.opened) == (7, 6, 4)
    assert (totals.completed, totals.expired, totals.still_open) == (3, 3, 1)
    assert totals.rate == pytest.approx(0.5)
    assert by_key(figures.breakdowns["timepoint"]) == {
        "3 months": (3, 1, 1, 0.5),
        "6 months": (1, 0, 1, 0.0),
        "baseline": (3, 2, 1, pytest.approx(2 / 3)),
    }
    assert by_key(figures.breakdowns["language"]) == {
        "en": (2, 2, 0, 1.0),
        "es": (3, 1, 2, pytest.approx(1 / 3)),
        "tr": (2, 0, 1, 0.0),
    }
    assert by_key(figures.breakdowns["channel"]) == {
        "no text": (1, 1, 0, 1.0),
        "text": (6, 2, 3, pytest.approx(0.4)),
    }
    assert by_key(figures.breakdowns["month"]) == {
        "2026-01": (3, 2, 1, pytest.approx(2 / 3)),
        "2026-04": (2, 1, 1, 0.5),
        "2026-05": (2, 0, 1, 0.0),
    }
    assert figures.median_hours_to_complete == pytest.approx(27.0)
    assert figures.completions_timed == 2
    assert figures.reminders_needed == [("0", 2), ("1", 1), ("2", 0), ("3+", 0)]
    assert figures.patients_missing_two == 1


def test_completion_by_way_of_answering_matches_the_hand_counted_history(
    make_patient, make_user, site
):
    seed_modes(make_patient, make_user, site)
    figures = completion_figures(db.session, [site.id], NOW)
    assert (figures.totals.invitations, figures.totals.completed) == (11, 7)
    assert (figures.totals.expired, figures.totals.still_open) == (3, 1)
    modes = figures.breakdowns["mode"]
    assert [tally.key for tally in modes] == ["web", "tablet", "paper", "phone"]
    assert by_key(modes) == {
        "web": (5, 2, 2, 0.5),
        "tablet": (3, 2, 1, pytest.approx(2 / 3)),
        "paper": (1, 1, 0, 1.0),
        "phone": (2, 2, 0, 1.0),
    }
    assert [tally.opened for tally in modes] == [2, 3, 1, 2]
    assert sum(tally.invitations for tally in modes) == figures.totals.invitations


def test_the_hand_counted_history_without_tablets_or_paper_is_all_web(seeded):
    figures = completion_figures(db.session, [seeded.id], NOW)
    assert by_key(figures.breakdowns["mode"]) == {"web": (7, 3, 3, 0.5)}


def test_the_page_and_csv_compare_the_ways_of_answering(sign_in, make_patient, make_user, site):
    seed_modes(make_patient, make_user, site)
    staff = sign_in("clinician", [site])
    page = staff.client.get(f"/clinic/analytics?site={site.id}")
    assert page.status_code == 200
    assert 'id="chart-mode"' in page.text and 'id="table-mode"' in page.text
    table = page.text.split('id="table-mode"')[1].split("</table>")[0]
    assert '<th scope="row">Clinic tablet</th><td>3</td>' in table
    assert "Clinic tablet: 67% (2 of 3)" in page.text  # the chart's description
    assert "Own phone (text link): 50% (2 of 4)" in page.text
    rows = list(csv.DictReader(io.StringIO(staff.client.get("/clinic/analytics.csv").text)))
    value = {(row["breakdown"], row["group"], row["measure"]): row["value"] for row in rows}
    assert value[("mode", "web", "rate")] == "0.5"
    assert value[("mode", "tablet", "rate")] == "0.6667"
    assert value[("mode", "tablet", "expired")] == "1"
    assert value[("mode", "paper", "completed")] == "1"
    assert value[("mode", "phone", "completed")] == "2"


@pytest.mark.parametrize(
    ("hours", "median"),
    [
        ([5], 5),
        ([1, 3, 3, 10], 3),  # two middle values, the same
        ([1, 2, 4, 10], 3),  # two middle values: their mean
        ([30, 1, 2, 2, 2, 7, 9], 2),  # ties around the middle, given out of order
        ([2, 2, 1, 8, 9, 40], 5),
    ],
)
def test_the_median_is_taken_over_every_timed_completion(make_patient, site, hours, median):
    patient = make_patient(site, "MEDIAN-1")
    for n, took in enumerate(hours):
        opens = at(2, 1 + n)
        done = opens + took * H
        made = invitation(patient, f"T{n}", opens, at(5, 1), InvitationStatus.COMPLETED, done, done)
        text(made, opens)
    # Neither a completion without a text nor an unanswered texted one is timed.
    invitation(patient, "no text", at(2, 1), at(5, 1), InvitationStatus.COMPLETED, NOW, NOW)
    text(invitation(patient, "unanswered", at(2, 1), at(5, 1)), at(2, 1))
    db.session.commit()
    figures = completion_figures(db.session, [site.id], NOW)
    assert figures.completions_timed == len(hours)
    assert figures.median_hours_to_complete == pytest.approx(median)


def test_no_history_gives_no_rates_rather_than_errors(site):
    figures = completion_figures(db.session, [site.id], NOW)
    assert figures.totals.invitations == 0 and figures.totals.rate is None
    assert figures.median_hours_to_complete is None
    assert all(tallies == [] for tallies in figures.breakdowns.values())


def test_another_sites_invitations_are_not_counted(seeded, other_site):
    theirs = completion_figures(db.session, [other_site.id], NOW)
    assert (theirs.totals.invitations, theirs.totals.completed) == (1, 1)


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_clinicians_and_admins_see_the_page_of_their_sites(sign_in, seeded, other_site, role):
    staff = sign_in(role, [seeded])
    page = staff.client.get("/clinic/analytics")
    assert page.status_code == 200
    assert "<svg" in page.text and "<desc" in page.text and "<table" in page.text
    assert seeded.name in page.text and other_site.name not in page.text
    assert staff.client.get(f"/clinic/analytics?site={other_site.id}").status_code == 404


def test_coordinators_cannot_see_the_analytics(sign_in, seeded):
    staff = sign_in("coordinator", [seeded])
    assert staff.client.get("/clinic/analytics").status_code == 403
    assert staff.client.get("/clinic/analytics.csv").status_code == 403


def test_the_csv_holds_the_figures_and_is_audited(sign_in, seeded):
    staff = sign_in("clinician", [seeded])
    response = staff.client.get(f"/clinic/analytics.csv?site={seeded.id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    value = {(row["breakdown"], row["group"], row["measure"]): row["value"] for row in rows}
    # Counted today, after P3's 3-month window closed too: P1 and P3 have missed two.
    assert value[("all", "all", "invitations")] == "7"
    assert value[("all", "all", "expired")] == "4"
    assert value[("all", "all", "completed")] == "3"
    assert value[("timepoint", "baseline", "rate")] == "0.6667"
    assert value[("channel", "no text", "completed")] == "1"
    assert value[("reminders_before_completion", "1", "completed")] == "1"
    assert value[("all", "all", "median_hours_first_text_to_completion")] == "27.0"
    assert value[("all", "all", "patients_with_two_or_more_missed")] == "2"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "analytics.export"))
    assert event.user_id == staff.user.id and event.detail["sites"] == [seeded.id]


def test_no_sites_give_no_figures_rather_than_errors(seeded):
    figures = completion_figures(db.session, [], NOW)
    assert figures.totals.invitations == 0 and figures.patients_missing_two == 0
    assert figures.median_hours_to_complete is None
