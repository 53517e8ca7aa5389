"""Triage happens with the submit, in its transaction, exactly once, and never costs the
patient their answers."""

import logging

from sqlalchemy import event, func, select, text

from survey.domain import submission
from survey.domain.triage import assessing, submitted
from survey.domain.triage.assessing import assess_invitation
from survey.extensions import db
from survey.models import (
    AuditEvent,
    CompletionCount,
    Invitation,
    InvitationStatus,
    Response,
    TriageItem,
    TriageStatus,
    utcnow,
)
from tests.conftest import logged_by
from tests.fixtures.triage import (
    RELAPSE,
    STAYS_IMPROVED,
    items_of,
    submit_history,
    submit_timepoint,
    trail,
)


def test_each_submit_triages_its_timepoint_once(site, make_patient):
    patient = make_patient(site, reference="RELAPSE")
    invitations = submit_history(patient, RELAPSE)
    items = items_of(patient)
    assert [item.invitation_id for item in items] == [i.id for i in invitations]
    assert [(str(i.level), str(i.status)) for i in items] == [
        ("green", "not needed"),
        ("green", "not needed"),
        ("yellow", "open"),
    ]
    relapse = items[-1]
    assert [f["rule"] for f in relapse.findings] == ["ccis-deterioration", "qolaf-worse-band"]
    assert relapse.site_id == site.id and relapse.patient_id == patient.id
    # Due when the yellow level says: 72 hours after the answers arrived.
    submitted = db.session.scalar(
        select(func.max(Response.submitted_at)).where(
            Response.invitation_id == relapse.invitation_id
        )
    )
    assert relapse.assessed_at == submitted
    assert (relapse.due_at - relapse.assessed_at).total_seconds() == 72 * 3600
    assert trail(relapse.id) == [("triage.assessed", None)]


def test_a_patient_who_stays_improved_produces_no_worklist_item(site, make_patient):
    patient = make_patient(site, reference="IMPROVED")
    submit_history(patient, STAYS_IMPROVED)
    items = items_of(patient)
    assert len(items) == 5
    assert {str(item.level) for item in items} == {"green"}
    assert not [item for item in items if item.status == TriageStatus.OPEN]


def test_submitting_again_adds_no_second_item(site, make_patient):
    patient = make_patient(site, reference="TWICE")
    invitation = submit_timepoint(patient, "baseline", 40, (1, 1, 1, 1, 1))
    again = submission.submit(db.session, invitation.id, "es")
    assert again.first_time is False
    assert len(items_of(patient)) == 1


def test_a_failing_triage_never_makes_the_submit_fail(site, make_patient, monkeypatch, caplog):
    patient = make_patient(site, reference="BROKEN")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a rule")

    monkeypatch.setattr(assessing, "assessment_of", broken)
    with logged_by(caplog, "survey.triage.assessing", logging.ERROR):
        invitation = submit_timepoint(patient, "baseline", 51, (2, 2, 2, 2, 2))
    db.session.expire_all()
    assert db.session.get(type(invitation), invitation.id).status == InvitationStatus.COMPLETED
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.invitation_id == invitation.id)
        )
        == 2
    )
    assert items_of(patient) == []
    assert "triage failed" in caplog.text and "catch-up" in caplog.text


def test_a_failing_triage_still_counts_the_completion(site, make_patient, monkeypatch, caplog):
    """The completion analytics count the answered invitation whatever triage does: its
    savepoint rolled back once forgot every invitation the submit had noted to recount."""
    patient = make_patient(site, reference="COUNTED")
    monkeypatch.setattr(assessing, "assessment_of", lambda *a, **k: 1 / 0)
    with logged_by(caplog, "survey.triage.assessing", logging.ERROR):
        invitation = submit_timepoint(patient, "baseline", 51, (2, 2, 2, 2, 2))
    assert items_of(patient) == []
    counted = db.session.scalar(select(Invitation.counted_as).where(Invitation.id == invitation.id))
    completed = counted[8]  # survey.domain.completion_counts.counted
    assert completed == 1
    assert (
        db.session.scalar(
            select(func.sum(CompletionCount.completed)).where(CompletionCount.figure == "all")
        )
        == 1
    )


def test_a_triage_statement_the_database_refuses_never_costs_the_answers(
    site, make_patient, monkeypatch, caplog
):
    """Triage writes its rows inside its savepoint: a statement the database refuses (on
    PostgreSQL one aborts the whole transaction) is rolled back alone, and the answers, the
    invitation's close and its counts are committed."""
    patient = make_patient(site, reference="REFUSED")
    refused = text("INSERT INTO no_such_table (id) VALUES (1) RETURNING id")
    monkeypatch.setattr(submitted, "_item_with_event", lambda: refused)
    monkeypatch.setattr(submitted, "_item_insert", lambda: refused)
    with logged_by(caplog, "survey.triage.assessing", logging.ERROR):
        invitation = submit_timepoint(patient, "baseline", 51, (2, 2, 2, 2, 2))
    assert "triage failed" in caplog.text
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).status == InvitationStatus.COMPLETED
    stored = (
        select(func.count()).select_from(Response).where(Response.invitation_id == invitation.id)
    )
    assert db.session.scalar(stored) == 2
    assert items_of(patient) == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    counted = db.session.scalar(select(Invitation.counted_as).where(Invitation.id == invitation.id))
    assert counted[8] == 1  # completed (survey.domain.completion_counts.counted)


def test_a_submit_writes_its_item_and_event_as_the_orm_would(site, make_patient, monkeypatch):
    """The submit inserts plain rows (one statement on PostgreSQL); `assess_invitation`,
    for the catch-up and the demo, the ORM objects: the same columns either way."""
    submitted = make_patient(site, reference="SUBMITTED")
    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        invitation = submit_timepoint(submitted, "baseline", 51, (2, 2, 2, 2, 2))
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    writes = [s for s in sent if s.startswith(("INSERT INTO triage_items", "WITH new_item"))]
    writes += [s for s in sent if s.startswith("INSERT INTO audit_events")]
    assert len(writes) == (1 if db.engine.dialect.name == "postgresql" else 2)

    assessed = make_patient(site, reference="ASSESSED")
    monkeypatch.setattr(assessing, "assessment_of", lambda *a, **k: None)  # no item yet
    later = submit_timepoint(assessed, "baseline", 51, (2, 2, 2, 2, 2))
    monkeypatch.undo()
    at = utcnow()
    item = assess_invitation(db.session, later, at)
    db.session.commit()

    def item_and_event(invitation):
        [mine] = [i for i in items_of(invitation.patient) if i.invitation_id == invitation.id]
        [audit] = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_type == "triageitem", AuditEvent.subject_id == mine.id
            )
        )
        item_columns = ("site_id", "level", "status", "findings")
        event_columns = ("action", "user_id", "site_id", "remote_addr")
        return (
            tuple(getattr(mine, name) for name in item_columns),
            mine.due_at - mine.assessed_at if mine.due_at else None,
            tuple(getattr(audit, name) for name in event_columns),
            audit.detail | {"invitation": None},
            audit.occurred_at is not None,
        )

    assert item.id is not None
    assert item_and_event(invitation) == item_and_event(later)
    assert item_and_event(invitation)[0][1:3] == ("green", "not needed")


def test_catch_up_assesses_what_a_failed_triage_left_exactly_once(
    site, make_patient, monkeypatch, runner
):
    patient = make_patient(site, reference="LATER")
    original = assessing.assessment_of
    monkeypatch.setattr(assessing, "assessment_of", lambda *a, **k: 1 / 0)
    submit_history(patient, RELAPSE)
    assert items_of(patient) == []
    monkeypatch.setattr(assessing, "assessment_of", original)

    first = runner.invoke(args=["triage", "catch-up", "--days", "30"])
    assert first.exit_code == 0, first.output
    assert "Assessed 3 answered questionnaire(s)" in first.output
    # Judged on the history up to each timepoint, as the submit would have.
    assert [str(item.level) for item in items_of(patient)] == ["green", "green", "yellow"]
    second = runner.invoke(args=["triage", "catch-up", "--days", "30"])
    assert "Assessed 0 answered questionnaire(s)" in second.output
    assert len(items_of(patient)) == 3


def test_catch_up_leaves_older_answers_alone(site, make_patient, monkeypatch, runner):
    from datetime import timedelta

    patient = make_patient(site, reference="OLD")
    monkeypatch.setattr(assessing, "assessment_of", lambda *a, **k: 1 / 0)
    submit_timepoint(patient, "baseline", 40, (1, 1, 1, 1, 1), at=utcnow() - timedelta(days=60))
    monkeypatch.undo()
    result = runner.invoke(args=["triage", "catch-up"])  # 14 days by default
    assert "Assessed 0" in result.output and items_of(patient) == []


def test_two_assessments_of_one_timepoint_store_one_item(site, make_patient, monkeypatch):
    patient = make_patient(site, reference="RACE")
    invitation = submit_timepoint(patient, "baseline", 40, (1, 1, 1, 1, 1))
    [winner] = items_of(patient)
    # The loser did not see the winner's item before inserting (as when both run at once):
    # the unique constraint stops it, and it returns the winner's item.
    real_item_of, calls = assessing.item_of, []

    def blind_at_first(session, invitation_id):
        calls.append(invitation_id)
        return None if len(calls) == 1 else real_item_of(session, invitation_id)

    monkeypatch.setattr(assessing, "item_of", blind_at_first)
    loser = assess_invitation(db.session, invitation, utcnow())
    db.session.commit()
    assert loser.id == winner.id and len(calls) == 2
    assert len(items_of(patient)) == 1
    assert trail(winner.id) == [("triage.assessed", None)]


def test_an_invitation_without_answers_gets_no_item(site, make_patient):
    from survey.domain.invitations import create_invitation

    patient = make_patient(site, reference="EMPTY")
    invitation = create_invitation(db.session, patient, "baseline")
    db.session.commit()
    assert assess_invitation(db.session, invitation, utcnow()) is None
    assert db.session.scalar(select(func.count()).select_from(TriageItem)) == 0


def test_the_clinics_ccis_setting_is_the_worklists_threshold_too(app, site, make_patient):
    # SURVEY_CCIS_MEANINGFUL_CHANGE=2: the pages, the flags and the worklist all use 2.
    app.config["CCIS_MEANINGFUL_CHANGE"] = 2
    patient = make_patient(site, reference="TWO")
    submit_history(patient, [("baseline", 30, (0,) * 5), ("3 months", 30, (1, 1, 0, 0, 0))])
    [_, drift] = items_of(patient)
    assert str(drift.level) == "yellow"
    [finding] = drift.findings
    assert finding["evidence"]["comparisons"][0]["threshold"] == 2
    # With the shipped 3, the same two points are no meaningful change.
    app.config["CCIS_MEANINGFUL_CHANGE"] = 3
    other = make_patient(site, reference="THREE")
    submit_history(other, [("baseline", 30, (0,) * 5), ("3 months", 30, (1, 1, 0, 0, 0))])
    assert [str(item.level) for item in items_of(other)] == ["green", "green"]
