"""The service as deployed: gunicorn from gunicorn.conf.py with two workers on PostgreSQL,
behind a TLS-terminating reverse proxy (SURVEY_PROXY_COUNT=1). A patient opens their link,
answers both questionnaires and sees the thank-you page; their scores are stored; the health
check answers; and the server's log holds neither the link's token nor who the patient is."""

import pytest
from sqlalchemy import select

from survey.domain.invitations import create_invitation, mint_link
from survey.extensions import db
from survey.models import Invitation, InvitationStatus, Response
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface
from tests.servers import Phone, gunicorn

pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("needs_postgresql")]

PUBLIC_HOST = "followup.example-hospital.org"
# What the reverse proxy in docs/deployment.md adds to every request it forwards.
PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": PUBLIC_HOST,
    "X-Forwarded-For": "203.0.113.7",
}


def test_a_patient_answers_through_two_workers_behind_a_reverse_proxy(
    schema, site, make_patient, tmp_path
):
    patient = make_patient(site, reference="P-DEPLOY-7", phone="+34612000777", language="es")
    invitation = create_invitation(db.session, patient, "3 months")
    token = mint_link(db.session, invitation)
    db.session.commit()

    log = tmp_path / "server.log"
    settings = {
        "SURVEY_PUBLIC_URL": f"https://{PUBLIC_HOST}",
        "SURVEY_PROXY_COUNT": "1",
        "SURVEY_LOG_LEVEL": "INFO",
    }
    with gunicorn(schema, log, workers=2, threads=2, settings=settings) as base:
        health = Phone(base).get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}

        phone = Phone(base, headers=PROXY_HEADERS)
        opened = phone.get(f"/s/{token}")
        assert opened.status_code == 303
        assert opened.headers["Location"] in ("/survey", f"https://{PUBLIC_HOST}/survey")
        # The proxy's https is trusted: the session cookie is Secure, and HSTS is sent.
        assert "Secure" in opened.headers["Set-Cookie"]
        assert "Strict-Transport-Security" in opened.headers
        welcome = phone.get("/survey")
        assert welcome.status_code == 200
        assert site.name in welcome.text

        phone.open_link(token)  # the link again, as from a second tab: still the same session
        assert phone.send(1, QOLAF_51).status_code == 303
        sent = phone.send(2, CCIS_10)
        assert sent.status_code == 303
        assert sent.headers["Location"].endswith("/survey/done")
        thanks = phone.get("/survey/done")
        assert thanks.status_code == 200
        assert interface("es", "Thank you") in thanks.text

    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).status == InvitationStatus.COMPLETED
    stored = db.session.scalars(select(Response).where(Response.invitation_id == invitation.id))
    scores = sorted((r.instrument_id, r.total, r.band, r.language) for r in stored)
    assert scores == [("ccis", 10, None, "es"), ("qolaf-q", 51, "high", "es")]

    text = log.read_text(errors="replace")
    assert "/s/[redacted]" in text  # the access log was written, with the link redacted
    assert "Traceback" not in text, text[-4000:]
    for private in (token, patient.reference, patient.phone, "612000777"):
        assert private not in text, f"the server log holds {private!r}"
