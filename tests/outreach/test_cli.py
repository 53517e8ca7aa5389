"""The outreach command line: enrol on a schedule, change and pause patients, dispatch, and
manage schedules and texts; bad input gets one clear line."""

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.models import AuditEvent, MessageStatus, Patient, PatientStatus, Schedule, utcnow
from tests.fixtures.outreach import messages_of


def run(runner, *args, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_patients_add_with_a_schedule_plans_the_invitations(runner, site):
    index = (date.today() + timedelta(days=30)).isoformat()
    output = run(
        runner,
        "patients",
        "add",
        "CLI-1",
        "--site",
        site.name,
        "--phone",
        "+34612345678",
        "--language",
        "es",
        "--index-date",
        index,
        "--schedule",
        "Standard follow-up",
    )
    assert "Enrolled CLI-1" in output
    assert "Scheduled: baseline, 3 weeks, 3 months, 6 months, 12 months." in output
    patient = db.session.scalar(select(Patient).where(Patient.reference == "CLI-1"))
    assert len(patient.invitations) == 5
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.enrol"))
    assert event.detail["via"] == "cli"


def test_patients_edit_pause_resume_withdraw(runner, site):
    index = date.today() + timedelta(days=30)
    run(
        runner,
        "patients",
        "add",
        "CLI-2",
        "--site",
        site.name,
        "--phone",
        "+34612345678",
        "--language",
        "es",
        "--index-date",
        index.isoformat(),
        "--schedule",
        "Standard follow-up",
    )
    output = run(
        runner,
        "patients",
        "edit",
        "CLI-2",
        "--index-date",
        (index + timedelta(days=7)).isoformat(),
        "--phone",
        "+34 622 334 455",
    )
    assert "index_date" in output and "phone" in output and "Moved: baseline" in output
    run(runner, "patients", "pause", "CLI-2")
    patient = db.session.scalar(select(Patient).where(Patient.reference == "CLI-2"))
    assert patient.status == PatientStatus.PAUSED and patient.phone == "+34622334455"
    run(runner, "patients", "resume", "CLI-2")
    run(runner, "patients", "withdraw", "CLI-2", "--yes")
    db.session.expire_all()
    assert patient.status == PatientStatus.WITHDRAWN
    assert {m.status for m in messages_of(patient)} == {MessageStatus.CANCELLED}


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "patients",
                "add",
                "P",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34612345678",
                "--language",
                "es",
                "--schedule",
                "Standard follow-up",
            ],
            "index date is needed",
        ),
        (
            [
                "patients",
                "add",
                "P",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34612345678",
                "--language",
                "es",
                "--index-date",
                "2026-05-01",
                "--schedule",
                "Nope",
            ],
            "no schedule called 'Nope'",
        ),
        (["patients", "edit", "NOBODY", "--language", "en"], "no patient with reference"),
        (["patients", "pause", "NOBODY"], "no patient with reference"),
        (["outreach", "schedules", "export", "Nope"], "no schedule called"),
        (["outreach", "schedules", "import", "/nonexistent.json"], "no file"),
    ],
)
def test_bad_input_gets_one_clear_line(runner, site, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_dispatch_sends_what_is_due_and_exits(runner, site, app, tmp_path):
    app.config["SMS_DEV_OUTBOX"] = str(tmp_path / "outbox.jsonl")
    run(
        runner,
        "patients",
        "add",
        "CLI-3",
        "--site",
        site.name,
        "--phone",
        "+34612345678",
        "--language",
        "es",
        "--index-date",
        (date.today() + timedelta(days=3)).isoformat(),
        "--schedule",
        "Standard follow-up",
    )
    output = run(runner, "outreach", "dispatch")
    assert "dispatch: sent " in output
    patient = db.session.scalar(select(Patient).where(Patient.reference == "CLI-3"))
    first = messages_of(patient)[0]
    # Sent now, or waiting for the morning if the tests run during Madrid's quiet hours.
    assert first.status == MessageStatus.SENT or (
        first.wait_reason == "quiet_hours" and first.due_at > utcnow()
    )


def test_dispatch_refuses_an_incomplete_twilio_configuration(runner, app):
    app.config.update(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=None)
    result = runner.invoke(args=["outreach", "dispatch"])
    assert result.exit_code != 0
    assert "SURVEY_TWILIO_ACCOUNT_SID" in result.output


def test_schedules_export_and_import(runner, app, tmp_path):
    exported = json.loads(run(runner, "outreach", "schedules", "export", "Standard follow-up"))
    exported["name"] = "Imported follow-up"
    exported["timepoints"] = exported["timepoints"][:2]
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    assert "2 timepoints" in run(runner, "outreach", "schedules", "import", str(path))
    assert "Imported follow-up" in run(runner, "outreach", "schedules", "list")
    run(runner, "outreach", "schedules", "retire", "Imported follow-up")
    schedule = db.session.scalar(select(Schedule).where(Schedule.name == "Imported follow-up"))
    assert not schedule.active
    exported["timepoints"][0]["window_days"] = 0
    exported["name"] = "Broken"
    path.write_text(json.dumps(exported), encoding="utf-8")
    result = runner.invoke(args=["outreach", "schedules", "import", str(path)])
    assert result.exit_code != 0 and "window must be" in result.output


def test_texts_shows_encoding_and_segments(runner, site):
    output = run(runner, "outreach", "texts", "--clinic", "Hospital Central")
    assert "invitation        tr" in output and "invitation_before tr" in output
    assert "UCS-2" in output and "GSM-7" in output
    output = run(runner, "outreach", "texts", "--clinic", "Almería Unit")
    assert "'Almería Unit'" in output and "because of í" in output
    # A site without an SMS name: never its own name ("Almería Colorectal Unit").
    output = run(runner, "outreach", "texts")
    assert "'Your clinic'" in output and "Colorectal" not in output


def test_dispatch_now_judges_quiet_hours_and_due_times_by_the_given_clock(
    runner, site, app, tmp_path
):
    app.config["SMS_DEV_OUTBOX"] = str(tmp_path / "outbox.jsonl")
    index = (date.today() + timedelta(days=3)).isoformat()
    run(
        runner,
        "patients",
        "add",
        "CLI-NOW",
        "--site",
        site.name,
        "--phone",
        "+34612345679",
        "--language",
        "es",
        "--index-date",
        index,
        "--schedule",
        "Standard follow-up",
    )

    def patient():
        return db.session.scalar(select(Patient).where(Patient.reference == "CLI-NOW"))

    first = messages_of(patient())[0]
    day = first.due_at.date() + timedelta(days=1)
    # 23:30 in Madrid: quiet hours, nothing goes.
    output = run(runner, "outreach", "dispatch", "--now", f"{day.isoformat()}T23:30:00+01:00")
    assert "sent 0" in output and "waiting 1" in output
    assert messages_of(patient())[0].wait_reason == "quiet_hours"
    # 11:00 in Madrid the next day (no zone given: UTC).
    output = run(runner, "outreach", "dispatch", "--now", f"{(day + timedelta(days=1))}T10:00:00")
    assert "sent 1" in output
    assert messages_of(patient())[0].status == MessageStatus.SENT
    for bad in ("tomorrow", "2026-13-01T10:00"):
        result = runner.invoke(args=["outreach", "dispatch", "--now", bad])
        assert result.exit_code == 2 and "ISO 8601" in result.output
    result = runner.invoke(args=["outreach", "dispatch", "--now", "2026-03-02T10:00", "--loop"])
    assert result.exit_code != 0 and "--loop" in result.output


def test_patients_new_episode_restarts_the_clock_and_says_what_it_did(runner, site):
    index = date.today() + timedelta(days=30)
    run(
        runner,
        "patients",
        "add",
        "CLI-EP",
        "--site",
        site.name,
        "--phone",
        "+34612345678",
        "--language",
        "es",
        "--index-date",
        index.isoformat(),
        "--schedule",
        "Standard follow-up",
    )
    repair = index + timedelta(days=120)
    output = run(
        runner,
        "patients",
        "new-episode",
        "CLI-EP",
        "--index-date",
        repair.isoformat(),
        "--label",
        "repair",
        "--earlier",
        "cancel",
    )
    assert f"Started episode 2 of CLI-EP (index date {repair.isoformat()})" in output
    assert "Scheduled: baseline, 3 weeks, 3 months, 6 months, 12 months." in output
    patient = db.session.scalar(select(Patient).where(Patient.reference == "CLI-EP"))
    assert [e.number for e in patient.episodes] == [1, 2] and patient.index_date == repair
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.new_episode"))
    assert event.detail["via"] == "cli" and event.detail["earlier"] == "cancel"
    refused = runner.invoke(
        args=["patients", "new-episode", "CLI-EP", "--index-date", index.isoformat()]
        + ["--earlier", "keep"]
    )
    assert refused.exit_code == 1 and "cannot be before" in refused.output
    unknown = runner.invoke(
        args=["patients", "new-episode", "CLI-EP", "--index-date", repair.isoformat()]
        + ["--earlier", "keep", "--schedule", "Nope"]
    )
    assert unknown.exit_code == 1 and "no schedule called" in unknown.output
