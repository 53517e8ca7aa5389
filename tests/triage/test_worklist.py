"""The worklist as clinicians use it: what needs action, with evidence and sources; take,
record the outcome, close; every step audited; overdue items stand out."""

import re
from datetime import timedelta

from sqlalchemy import select

from survey.domain import submission
from survey.domain.triage.contact import request_contact
from survey.extensions import db
from survey.models import AuditEvent, TriageItem, TriageStatus, utcnow
from tests.fixtures.triage import (
    RELAPSE,
    STAYS_IMPROVED,
    items_of,
    submit_history,
    trail,
)


def rows(page_html: str) -> list[str]:
    """The worklist's rows as text, in page order."""
    found = re.findall(r'<tr class="[^"]*" data-item="\d+">(.*?)</tr>', page_html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in found]


def test_the_relapse_story(site, make_patient, worklist, clinician):
    """51/10 -> 28/0 -> 51/10: one item for the third timepoint, with the CCIS deterioration
    and its source; taking it, recording the outcome and closing it are each audited."""
    patient = make_patient(site, reference="RELAPSE-1")
    submit_history(patient, RELAPSE)
    [item] = [item for item in items_of(patient) if item.status == TriageStatus.OPEN]
    assert db.session.get(type(item), item.id).invitation.timepoint == "12 months"

    page = worklist.page().text
    [row] = rows(page)
    assert "RELAPSE-1" in row and "12 months" in row and "Yellow" in row
    assert "CCIS worse by at least the minimal important change" in row
    # The evidence and its source are on the list itself, the extrapolation named.
    assert "CCIS 10 points worse than at the previous answers" in row
    assert "Source (extrapolated)" in row and "doi:10.1007/s00192-012-1886-9" in row
    assert "nobody yet" in row

    detail = worklist.item(item.id).text
    assert (
        "CCIS 10 points worse than at the previous answers (6 months, also the best so far): "
        "0 to 10; threshold 3." in detail
    )
    assert "QoLAF-Q moved to a worse band since the previous answers (6 months)" in detail
    assert "Bols EM, et al. Int Urogynecol J 2013;24(3):469-78" in detail
    assert "published for improvement only: using it for worsening is an extrapolation" in detail
    assert "Ferrer-Márquez M, et al. Cir Esp 2018;96:213-20" in detail

    assert worklist.take(item.id).status_code == 303
    assert (
        worklist.step(
            item.id, "outcome", outcome="called", note="Flare-up; seen Friday."
        ).status_code
        == 303
    )
    closed = worklist.step(item.id, "close")
    assert closed.status_code == 303 and closed.headers["Location"].endswith("/clinic/worklist")

    db.session.expire_all()
    item = db.session.get(TriageItem, item.id)
    assert (item.status, item.outcome, item.outcome_note) == (
        "closed",
        "called",
        "Flare-up; seen Friday.",
    )
    assert item.assignee_id == item.outcome_by_id == item.closed_by_id == clinician.id
    steps = [(action, user) for action, user in trail(item.id) if action != "triage.view"]
    assert steps == [
        ("triage.assessed", None),
        ("triage.taken", clinician.id),
        ("triage.outcome", clinician.id),
        ("triage.closed", clinician.id),
    ]
    outcome = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "triage.outcome"))
    assert outcome.detail == {"outcome": "called", "note": "Flare-up; seen Friday."}
    assert outcome.site_id == site.id and outcome.remote_addr
    # Gone from what needs action, there under Closed, with its outcome.
    assert rows(worklist.page().text) == []
    [closed_row] = rows(worklist.page(view="closed").text)
    assert "RELAPSE-1" in closed_row and "Called the patient" in closed_row
    history = worklist.item(item.id).text.split("Every step")[1]
    assert history.index("Taken") < history.index("Outcome recorded") < history.index("Closed")
    assert "Flare-up; seen Friday." in history


def test_a_patient_with_unchanged_scores_who_asks_to_be_contacted_tops_the_worklist(
    site, make_patient, worklist
):
    relapsed = make_patient(site, reference="RELAPSE-2")
    submit_history(relapsed, RELAPSE)
    steady = make_patient(site, reference="STEADY", language="tr")
    [_, latest] = submit_history(
        steady, [("baseline", 38, (0, 1, 2, 1, 1)), ("3 months", 38, (0, 1, 2, 1, 1))]
    )
    assert [str(i.level) for i in items_of(steady)] == ["green", "green"]

    request_contact(db.session, latest.id, "Yara hâlâ akıntı yapıyor.", utcnow())
    page = worklist.page().text
    listed = rows(page)
    assert [row.split()[1] for row in listed] == ["STEADY", "RELAPSE-2"]
    assert listed[0].startswith("Red") and "The patient asked to be contacted" in listed[0]
    item = items_of(steady)[-1]
    assert (str(item.level), str(item.status)) == ("red", "open")
    assert (item.due_at - utcnow()) <= timedelta(hours=24)
    detail = worklist.item(item.id).text
    assert "Yara hâlâ akıntı yapıyor." in detail
    assert "Scores at this timepoint:" in detail and "QoLAF-Q 38" in detail
    assert [action for action, _ in trail(item.id) if action != "triage.view"] == [
        "triage.assessed",
        "triage.raised",
    ]


def test_a_patient_who_stays_improved_puts_nothing_on_the_worklist(site, make_patient, worklist):
    patient = make_patient(site, reference="IMPROVED-1")
    submit_history(patient, STAYS_IMPROVED)
    page = worklist.page().text
    assert rows(page) == [] and "Nothing needs action" in page
    assert "0 red" in page and "0 yellow" in page


def test_overdue_items_stand_out_and_come_first_within_their_level(site, make_patient, worklist):
    late = make_patient(site, reference="LATE")
    submit_history(late, RELAPSE, start=utcnow() - timedelta(days=30))  # due weeks ago
    recent = make_patient(site, reference="RECENT")
    submit_history(recent, RELAPSE)
    page = worklist.page().text
    listed = rows(page)
    assert [row.split()[1] for row in listed] == ["LATE", "RECENT"]
    assert "Overdue since" in listed[0] and "Overdue since" not in listed[1]
    assert re.search(r'<tr class="overdue-row" data-item="\d+">', page)
    assert "1 overdue" in page


def test_someone_who_took_an_item_first_keeps_it(site, make_patient, worklist, make_user, app):
    from tests.conftest import StaffActions
    from tests.fixtures.triage import Worklist

    patient = make_patient(site, reference="BOTH")
    submit_history(patient, RELAPSE)
    item = next(i for i in items_of(patient) if i.status == TriageStatus.OPEN)
    colleague = make_user("clinician", [site])
    other = Worklist(app.test_client())
    StaffActions(other.client).login(colleague.email)
    # Both open the page while nobody has it; the colleague takes it first.
    assert other.take(item.id).status_code == 303
    late = worklist.take(item.id, seen="")
    assert late.status_code == 409
    assert "Someone else took this item first" in late.text
    db.session.expire_all()
    assert db.session.get(TriageItem, item.id).assignee_id == colleague.id
    # Taking over knowingly (the page showed who has it) is allowed, and audited.
    assert worklist.take(item.id, seen=str(colleague.id)).status_code == 303
    taken = [
        e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "triage.taken"))
    ]
    assert [event.detail["from_user"] for event in taken] == [None, colleague.id]


def test_steps_out_of_order_change_nothing(site, make_patient, worklist):
    patient = make_patient(site, reference="ORDER")
    submit_history(patient, RELAPSE)
    item = next(i for i in items_of(patient) if i.status == TriageStatus.OPEN)
    not_taken = worklist.step(item.id, "outcome", outcome="called")
    assert not_taken.status_code == 409 and "Take this item first" in not_taken.text
    worklist.take(item.id)
    no_outcome = worklist.step(item.id, "close")
    assert no_outcome.status_code == 409 and "Record what was done" in no_outcome.text
    worklist.step(item.id, "outcome", outcome="no action needed")
    worklist.step(item.id, "close")
    again = worklist.step(item.id, "close")
    assert again.status_code == 409 and "already closed" in again.text
    steps = [action for action, _ in trail(item.id) if action != "triage.view"]
    assert steps.count("triage.closed") == 1 and steps.count("triage.outcome") == 1


def test_a_bad_outcome_or_note_is_refused_with_a_message_and_nothing_stored(
    site, make_patient, worklist
):
    patient = make_patient(site, reference="BAD")
    submit_history(patient, RELAPSE)
    item = next(i for i in items_of(patient) if i.status == TriageStatus.OPEN)
    worklist.take(item.id)
    checked = 0
    for fields, message in [
        ({"outcome": "cured"}, "Choose what was done from the list."),
        ({"outcome": ""}, "Choose what was done from the list."),
        ({"outcome": "called", "note": "x" * 1001}, "at most 1000 characters"),
        ({"outcome": "called", "note": "a\x00b"}, "no control characters"),
        ({"outcome": "called", "note": "\u202eevil"}, "no control characters"),
    ]:
        response = worklist.step(item.id, "outcome", **fields)
        assert response.status_code == 400 and message in response.text, fields
        checked += 1
    assert checked == 5
    db.session.expire_all()
    assert db.session.get(TriageItem, item.id).outcome is None
    # What was typed is kept in the form, escaped.
    kept = worklist.step(item.id, "outcome", outcome="cured", note="<b>bold</b> & more")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in kept.text and "<b>bold</b>" not in kept.text


def test_hostile_notes_are_kept_as_typed_and_shown_escaped(site, make_patient, worklist):
    from tests.fixtures.patients import hostile_strings

    patient = make_patient(site, reference="NOTES")
    submit_history(patient, RELAPSE)
    item = next(i for i in items_of(patient) if i.status == TriageStatus.OPEN)
    worklist.take(item.id)
    stored, texts = 0, hostile_strings()
    for text in texts:
        response = worklist.step(item.id, "outcome", outcome="called", note=text)
        assert response.status_code in (303, 400), (text, response.status_code)
        stored += response.status_code == 303
    # Most are ordinary text; those with control characters are refused.
    assert stored > len(texts) * 3 // 4
    # Every stored note is on the page (the history shows each step's note): all escaped.
    page = worklist.item(item.id).text.split("Every step")[1]
    assert page.count("Outcome recorded") == stored
    for markup in ("<script>", "<img src=x", "<svg onload", "<iframe"):
        assert markup not in page.lower()


def test_the_worklist_query_parameters_are_checked(site, make_patient, worklist, other_site):
    patient = make_patient(site, reference="PARAMS")
    submit_history(patient, RELAPSE)
    for args in ({"view": "everything"}, {"site": str(other_site.id)}, {"site": "1 OR 1=1"}):
        page = worklist.page(**args)
        assert page.status_code == 200
        assert "were not understood and were ignored" in page.text
        assert "PARAMS" in page.text
    assert rows(worklist.page(view="mine").text) == []


def test_views_of_the_worklist_and_of_an_item_are_audited(site, make_patient, worklist, clinician):
    patient = make_patient(site, reference="SEEN")
    submit_history(patient, RELAPSE)
    item = next(i for i in items_of(patient) if i.status == TriageStatus.OPEN)
    worklist.page(view="open")
    worklist.item(item.id)
    db.session.expire_all()
    events = {
        event.action: event
        for event in db.session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == clinician.id)
        )
    }
    assert events["worklist.view"].detail == {"view": "open", "site": None, "rows": 1}
    assert events["triage.view"].subject_id == item.id
    assert events["triage.view"].detail["patient"] == patient.id


def test_submitting_through_the_patient_pages_puts_the_relapse_on_the_worklist(
    site, make_patient, worklist, app
):
    """The same story through the phone's pages instead of the domain functions."""
    from tests.fixtures.patients import PatientActions

    patient = make_patient(site, reference="PHONE")
    submit_history(patient, RELAPSE[:2])
    from survey.domain.invitations import create_invitation, mint_link

    invitation = create_invitation(
        db.session, patient, "12 months", opens_at=utcnow() - timedelta(hours=1)
    )
    token = mint_link(db.session, invitation)
    db.session.commit()
    phone = PatientActions(app.test_client())
    phone.opens(f"/s/{token}")
    qolaf = {f"q{n}": 4 if n <= 9 else 3 for n in range(1, 15)}  # 51
    phone.completes(qolaf, {"solid": 2, "liquid": 2, "gas": 2, "pad": 2, "lifestyle": 2})
    assert submission.state_of(db.session.get(type(invitation), invitation.id)) == "completed"
    [row] = rows(worklist.page().text)
    assert "PHONE" in row and "12 months" in row
