"""The alert load: the share of answered timepoints at each level, replayed or stored."""

import re

from survey.domain.triage.contact import request_contact
from survey.domain.triage.load import replayed_load, stored_load
from survey.extensions import db
from survey.models import utcnow
from tests.fixtures.triage import RELAPSE, STAYS_IMPROVED, submit_history


def test_replaying_the_rules_gives_what_the_submits_stored(site, other_site, make_patient):
    submit_history(make_patient(site, reference="A"), RELAPSE)  # green, green, yellow
    submit_history(make_patient(site, reference="B"), STAYS_IMPROVED)  # 5 green
    steady = make_patient(other_site, reference="C", language="tr", phone="+905321234567")
    [_, last] = submit_history(steady, [("baseline", 38, (1,) * 5), ("3 months", 38, (1,) * 5)])
    request_contact(db.session, last.id, "", utcnow())  # red

    stored, replayed = stored_load(db.session), replayed_load(db.session)
    for load in (stored, replayed):
        assert load.answered == 10 and load.patients == 3
        assert dict(load.levels) == {"green": 8, "yellow": 1, "red": 1}
        assert load.share("yellow") == 0.1 and load.alerting == 0.2
        assert load.rules["ccis-deterioration"] == 1 and load.rules["contact-request"] == 1
    ours = replayed_load(db.session, [site.id])
    assert (ours.answered, ours.levels["red"]) == (8, 0)
    assert replayed_load(db.session, limit=1).answered == 3


def test_the_load_command_prints_each_level_against_the_published_anchors(
    runner, site, make_patient
):
    submit_history(make_patient(site, reference="A"), RELAPSE)
    result = runner.invoke(args=["triage", "load"])
    assert result.exit_code == 0, result.output
    assert "3 answered timepoints of 1 patients" in result.output
    assert re.search(r"yellow +1 +33.3%", result.output)
    assert "alerting (yellow or red): 33.3%" in result.output
    assert "7.8%" in result.output and "34%" in result.output
    stored = runner.invoke(args=["triage", "load", "--stored", "--site", site.name])
    assert "Stored items: 3 answered timepoints" in stored.output
    unknown = runner.invoke(args=["triage", "load", "--site", "Nowhere"])
    assert unknown.exit_code != 0 and "There is no site called 'Nowhere'" in unknown.output


def test_the_demo_shows_a_relapse_a_mixed_pattern_and_a_contact_request(runner):
    assert runner.invoke(args=["demo", "--no-serve"]).exit_code == 0
    load = stored_load(db.session)
    assert load.answered == 12 and dict(load.levels) == {"green": 9, "yellow": 2, "red": 1}
    assert replayed_load(db.session).levels == load.levels
    # Running the demo again adds no second item for any timepoint.
    assert runner.invoke(args=["demo", "--no-serve"]).exit_code == 0
    assert stored_load(db.session).answered == 12
