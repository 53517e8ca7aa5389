"""Nobody left out for lack of a smartphone: a clinic tablet opened with a coordinator's
single-use code (no staff session on the tablet), and answers given on paper or by phone
typed in by a coordinator, scored and stored exactly once with the mode and who entered them."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.domain import handoff
from survey.extensions import db
from survey.models import AuditEvent, Invitation, Response, TabletHandoff, utcnow
from tests.conftest import csrf_from
from tests.fixtures.patients import CCIS_10, QOLAF_51, PatientActions

CODE = re.compile(r'class="handoff-code"[^>]*><strong>([A-Z0-9]{4}-[A-Z0-9]{4})</strong>')


@pytest.fixture
def coordinator(client, staff, site, make_user):
    user = make_user("coordinator", [site])
    staff.login(user.email)
    return user


@pytest.fixture
def open_invitation(enrolled, invite):
    return invite(enrolled).invitation


def hand_over(client, invitation) -> str:
    page = client.get(f"/clinic/follow-up/patients/{invitation.patient_id}")
    assert page.status_code == 200
    shown = client.post(
        f"/clinic/follow-up/invitations/{invitation.id}/tablet",
        data={"csrf_token": csrf_from(page.text)},
    )
    assert shown.status_code == 200
    assert "<svg" in shown.text  # the QR code, inline
    return CODE.search(shown.text).group(1)


def entry_form(client, invitation, **data):
    url = f"/clinic/follow-up/invitations/{invitation.id}/enter"
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={"csrf_token": csrf_from(page.text), **data})


def every_answer(qolaf=QOLAF_51, ccis=CCIS_10) -> dict:
    return {
        **{f"qolaf-q.{item}": str(value) for item, value in qolaf.items()},
        **{f"ccis.{item}": str(value) for item, value in ccis.items()},
    }


def stored() -> list[Response]:
    db.session.expire_all()
    return db.session.scalars(select(Response).order_by(Response.id)).all()


def test_a_tablet_opens_the_invitation_with_the_code_and_answers_as_tablet(
    app, client, coordinator, open_invitation
):
    code = hand_over(client, open_invitation)
    # Only the hash is kept, and the making of the code is audited.
    row = db.session.scalar(select(TabletHandoff))
    assert row.code_hash == handoff.code_hash(code.replace("-", ""))
    assert db.session.scalar(
        select(func.count()).where(AuditEvent.action == "invitation.tablet_handoff")
    )

    tablet_client = app.test_client()
    tablet = PatientActions(tablet_client)
    page = tablet_client.get("/t")
    assert page.status_code == 200
    opened = tablet_client.post(
        "/t", data={"csrf_token": csrf_from(page.text), "code": code.lower().replace("-", " ")}
    )
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith("/survey")
    tablet.completes(QOLAF_51, CCIS_10)
    assert [(r.mode, r.entered_by_id) for r in stored()] == [("tablet", None), ("tablet", None)]
    # No staff session ever on the tablet.
    assert "staff_token" not in (tablet_client.get_cookie("session").value or "")
    with tablet_client.session_transaction() as session:
        assert "staff_token" not in session
    assert tablet_client.get("/clinic/follow-up/").status_code in (302, 303)


def test_a_code_works_once_and_not_after_it_expires(app, client, coordinator, open_invitation):
    code = hand_over(client, open_invitation)
    first = app.test_client()
    assert first.get(f"/t/{code}").status_code == 303
    second = app.test_client()
    refused = second.get(f"/t/{code}")
    assert refused.status_code == 422
    assert "This code does not work" in refused.text

    later = hand_over(client, open_invitation)
    row = db.session.scalars(select(TabletHandoff).order_by(TabletHandoff.id.desc())).first()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert app.test_client().get(f"/t/{later}").status_code == 422


def test_a_new_code_stops_the_previous_one(app, client, coordinator, open_invitation):
    old = hand_over(client, open_invitation)
    new = hand_over(client, open_invitation)
    assert app.test_client().get(f"/t/{old}").status_code == 422
    assert app.test_client().get(f"/t/{new}").status_code == 303


def test_a_tablet_with_a_signed_in_coordinator_is_signed_out_before_the_patient_takes_it(
    client, coordinator, open_invitation
):
    code = hand_over(client, open_invitation)
    opened = client.get(f"/t/{code}")  # the same browser the coordinator is signed in on
    assert opened.status_code == 303
    with client.session_transaction() as session:
        assert "staff_token" not in session
        assert session["invitation_id"] == open_invitation.id
    assert client.get("/clinic/follow-up/").status_code in (302, 303)


@pytest.mark.parametrize("typed", ["", "x", "ABCD-EFG", "0000-0000", "ABCD-EFGH-J", "' OR 1=1 --"])
def test_malformed_or_unknown_codes_open_nothing(client, typed):
    page = client.get("/t")
    refused = client.post("/t", data={"csrf_token": csrf_from(page.text), "code": typed})
    assert refused.status_code == 422
    with client.session_transaction() as session:
        assert "invitation_id" not in session


def test_answers_from_paper_record_mode_and_who_entered_them_and_are_audited(
    client, coordinator, open_invitation
):
    saved = entry_form(client, open_invitation, mode="paper", **every_answer())
    assert saved.status_code == 302
    responses = stored()
    assert [(r.instrument_id, r.mode, r.entered_by_id) for r in responses] == [
        ("qolaf-q", "paper", coordinator.id),
        ("ccis", "paper", coordinator.id),
    ]
    assert responses[0].total == 51 and responses[0].language == "es"
    assert db.session.get(Invitation, open_invitation.id).status == "completed"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "response.enter"))
    assert event.user_id == coordinator.id
    assert event.detail["mode"] == "paper"
    # The clinician's page says how the answers were given.
    page = client.get(f"/clinic/patients/{open_invitation.patient_id}")
    assert page.status_code == 200
    assert "given on paper" in page.text
    assert f"entered by {coordinator.email}" in page.text


def test_entering_again_stores_nothing_more(client, coordinator, open_invitation):
    url = f"/clinic/follow-up/invitations/{open_invitation.id}/enter"
    data = {"csrf_token": csrf_from(client.get(url).text), "mode": "phone", **every_answer()}
    assert client.post(url, data=data).status_code == 302
    again = client.post(url, data=data)  # a double-click
    assert again.status_code == 302
    assert "already answered" in client.get(again.headers["Location"]).text
    assert len(stored()) == 2


def test_missing_answers_and_mode_are_each_reported_and_nothing_is_stored(
    client, coordinator, open_invitation
):
    answers = every_answer()
    del answers["qolaf-q.q3"], answers["ccis.gas"]
    page = entry_form(client, open_invitation, **answers)
    assert page.status_code == 422
    assert 'href="#mode-paper"' in page.text
    assert 'href="#qolaf-q-q3-' in page.text and 'href="#ccis-gas-' in page.text
    assert "checked" in page.text  # the answers given are kept on the page
    assert stored() == []


@pytest.mark.parametrize(
    "tamper",
    [{"qolaf-q.q1": "9"}, {"qolaf-q.nope": "1"}, {"mode": "web"}, {"language": "xx"}],
)
def test_a_tampered_entry_is_refused_whole(client, coordinator, open_invitation, tamper):
    refused = entry_form(client, open_invitation, **{"mode": "paper", **every_answer(), **tamper})
    assert refused.status_code == 400
    assert stored() == []


def test_staff_of_another_site_cannot_hand_over_or_enter(
    client, staff, other_site, make_user, open_invitation
):
    outsider = make_user("coordinator", [other_site])
    staff.login(outsider.email)
    page = client.get("/clinic/follow-up/")
    token = csrf_from(page.text)
    url = f"/clinic/follow-up/invitations/{open_invitation.id}"
    assert client.post(f"{url}/tablet", data={"csrf_token": token}).status_code == 404
    assert client.get(f"{url}/enter").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(TabletHandoff)) == 0


def test_a_tablet_code_never_reaches_a_log_line():
    from survey.operations import redact

    line = 'GET /t/K7QM3XPA HTTP/1.1" 303 - "/t/K7QM3XPA"'
    assert "K7QM3XPA" not in redact(line)
    assert redact("GET /static/style.css") == "GET /static/style.css"
