"""The demo: seeded data tells the published story, and running it twice is safe."""

from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Patient, Response, User


def run_demo(runner):
    result = runner.invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    return result.output


def scores(reference: str) -> list[tuple[str, str, int, str | None]]:
    patient = db.session.scalar(select(Patient).where(Patient.reference == reference))
    responses = db.session.scalars(
        select(Response).where(Response.patient_id == patient.id).order_by(Response.submitted_at,
                                                                           Response.instrument_id)
    )
    return [(r.invitation.timepoint, r.instrument_id, r.total, r.band) for r in responses]


def test_the_demo_prints_a_login_per_role_and_a_patient_link(runner, app):
    output = run_demo(runner)
    for role in ("admin", "clinician", "coordinator"):
        assert f"{role}@demo.example" in output
    assert "/s/" in output


def test_the_first_demo_patient_follows_the_published_case(runner):
    run_demo(runner)
    history = scores("DEMO-001")
    assert history[0:2] == [("baseline", "ccis", 10, None), ("baseline", "qolaf-q", 51, "high")]
    assert history[-2:] == [("6 months", "ccis", 0, None), ("6 months", "qolaf-q", 28, "limited")]


def test_running_the_demo_twice_adds_nothing_but_new_passwords(runner, staff):
    run_demo(runner)
    counts = [db.session.scalar(select(func.count()).select_from(model))
              for model in (Patient, Response, User)]
    output = run_demo(runner)
    assert counts == [db.session.scalar(select(func.count()).select_from(model))
                      for model in (Patient, Response, User)]
    # The passwords printed by the latest run are the ones that work.
    line = next(line for line in output.splitlines() if "clinician@demo.example" in line)
    password = line.split()[-1]
    assert staff.login("clinician@demo.example", password).status_code == 302


def test_the_newest_demo_patient_follows_the_default_schedule(runner):
    from survey.models import Message

    run_demo(runner)
    patient = db.session.scalar(select(Patient).where(Patient.reference == "DEMO-004"))
    assert patient.schedule is not None
    timepoints = [invitation.timepoint for invitation in patient.invitations]
    assert timepoints[0] == "baseline" and len(timepoints) >= 5
    assert db.session.scalar(select(func.count()).select_from(Message)) > 0
