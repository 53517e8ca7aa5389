"""Demo data: a site, one account per role, and patients with a believable history.

The first patient follows the published case (Arslan et al., Cureus 2026): QoLAF-Q 51 and
CCIS 10 before treatment, 28 and 0 six months after."""

import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.enrolment import enrol_patient
from survey.domain.invitations import create_invitation, link_url, mint_link
from survey.domain.responses import store_response
from survey.domain.staff_setup import create_site
from survey.domain.triage.assessing import assess_invitation
from survey.domain.triage.contact import raise_for_contact
from survey.instruments import CCIS, QOLAF, Instrument, get_instrument
from survey.localtime import local_moment
from survey.models import (
    ContactRequest,
    Invitation,
    InvitationStatus,
    Patient,
    Role,
    Site,
    User,
    utcnow,
)
from survey.outreach.patient_schedule import enrol
from survey.outreach.policy import SendingRules
from survey.outreach.schedule_definitions import ensure_default_schedule
from survey.passwords import hash_password

SITE_NAME = "Demo Colorectal Clinic"
ROLES = (Role.ADMIN, Role.CLINICIAN, Role.COORDINATOR)

# (reference, language, phone, days since index date,
#  [(timepoint, days after index, QoLAF-Q total, CCIS answers)])
# CCIS answers are spelled out (solid, liquid, gas, pad, lifestyle) so the items tell a story.
PATIENTS = [
    (
        "DEMO-001",
        "es",
        "+34612345678",
        200,
        [
            ("baseline", -7, 51, (1, 3, 3, 2, 1)),
            ("3 weeks", 21, 44, (0, 2, 2, 1, 1)),
            ("3 months", 91, 35, (0, 1, 1, 0, 0)),
            ("6 months", 182, 28, (0, 0, 0, 0, 0)),
        ],
    ),
    # Quality of life improves while continence worsens: the pattern clinicians must not miss.
    (
        "DEMO-002",
        "en",
        "+447911123456",
        190,
        [
            ("baseline", -5, 45, (0, 1, 1, 1, 0)),
            ("3 months", 91, 33, (0, 1, 2, 1, 0)),
            ("6 months", 182, 30, (1, 2, 2, 2, 1)),
        ],
    ),
    # A missed timepoint: the 3-week invitation expired unanswered. At 3 months the scores
    # barely moved, but the patient asked to be contacted (CONTACT_REQUESTS).
    (
        "DEMO-003",
        "tr",
        "+905321234567",
        100,
        [
            ("baseline", -3, 38, (0, 1, 2, 1, 1)),
            ("3 weeks", 21, None, None),
            ("3 months", 91, 30, (0, 1, 2, 0, 1)),
        ],
    ),
    # A relapse: much better at 6 months, back where the patient started at 12 months.
    (
        "DEMO-005",
        "en",
        "+447911123457",
        380,
        [
            ("baseline", -7, 51, (2, 2, 2, 2, 2)),
            ("6 months", 182, 28, (0, 0, 0, 0, 0)),
            ("12 months", 365, 51, (2, 2, 2, 2, 2)),
        ],
    ),
]
# (reference, timepoint, the patient's own words) for "please contact me".
CONTACT_REQUESTS = [
    ("DEMO-003", "3 months", "Yara hâlâ akıntı yapıyor, bu konuda konuşmak istiyorum."),
]
NEW_PATIENT = ("DEMO-004", "en", "+34622334455")


@dataclass
class DemoLogin:
    email: str
    role: str
    password: str


def answers_for_total(instrument: Instrument, total: int) -> dict[str, int]:
    """A plausible, deterministic set of answers adding up to `total`."""
    values = [option.value for option in instrument.options]
    lowest, highest = min(values), max(values)
    answers = {item.id: lowest for item in instrument.items}
    remaining = total - lowest * len(answers)
    while remaining > 0:
        for item_id in answers:
            if remaining and answers[item_id] < highest:
                answers[item_id] += 1
                remaining -= 1
    return answers


def seed(
    db: Session, public_url: str, rules: SendingRules, today: date | None = None
) -> tuple[list[DemoLogin], str]:
    """Create what is missing (safe to run again), reset the demo passwords, and return
    the logins and a fresh link for the patient whose survey is open now.

    The newest patient follows the default schedule, so coordinators see planned messages."""
    today = today or utcnow().date()
    site = db.scalar(select(Site).where(Site.name == SITE_NAME)) or create_site(
        db, SITE_NAME, "Europe/Madrid", "es", contact="+34 950 000 000"
    )
    logins = [_reset_demo_user(db, site, role) for role in ROLES]
    for reference, language, phone, days_since_index, history in PATIENTS:
        if _patient(db, site, reference) is None:
            patient = enrol_patient(
                db, site, reference, phone, language, None, today - timedelta(days=days_since_index)
            )
            _add_history(db, patient, history)
            db.flush()
            _ask_for_contact(db, patient)

    reference, language, phone = NEW_PATIENT
    now = utcnow()
    patient = _patient(db, site, reference)
    if patient is None:
        patient, _ = enrol(
            db,
            site,
            reference,
            phone,
            language,
            None,
            today + timedelta(days=10),
            ensure_default_schedule(db),
            now,
            rules,
        )
    invitation = db.scalar(
        select(Invitation).where(
            Invitation.patient == patient,
            Invitation.status == InvitationStatus.OPEN,
            Invitation.expires_at > now,
        )
    ) or create_invitation(db, patient, "baseline")
    token = mint_link(db, invitation)
    db.commit()
    return logins, link_url(public_url, token)


def _patient(db: Session, site: Site, reference: str) -> Patient | None:
    return db.scalar(select(Patient).where(Patient.site == site, Patient.reference == reference))


def _reset_demo_user(db: Session, site: Site, role: Role) -> DemoLogin:
    email = f"{role.value}@demo.example"
    password = secrets.token_urlsafe(12)
    user = db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, role=role, sites=[site], password_hash="")
        db.add(user)
    user.password_hash = hash_password(password)
    user.active = True
    return DemoLogin(email, role.value, password)


def _add_history(db: Session, patient: Patient, history) -> None:
    qolaf, ccis = get_instrument(QOLAF), get_instrument(CCIS)
    for timepoint, day, qolaf_total, ccis_answers in history:
        opens_at = local_moment(patient.index_date + timedelta(days=day), time(9), patient.timezone)
        invitation = create_invitation(db, patient, timepoint, opens_at=opens_at)
        db.flush()
        if qolaf_total is None:
            continue  # missed: the window passed without an answer
        submitted_at = opens_at + timedelta(days=1, hours=3)
        store_response(
            db,
            invitation,
            qolaf,
            answers_for_total(qolaf, qolaf_total),
            patient.language,
            submitted_at,
        )
        ccis_by_item = dict(zip([i.id for i in ccis.items], ccis_answers, strict=True))
        store_response(db, invitation, ccis, ccis_by_item, patient.language, submitted_at)
        invitation.status = InvitationStatus.COMPLETED
        invitation.started_at = submitted_at - timedelta(minutes=3)
        invitation.completed_at = submitted_at
        # Triaged as the submit would have, when it was submitted.
        assess_invitation(db, invitation, submitted_at)


def _ask_for_contact(db: Session, patient: Patient) -> None:
    for reference, timepoint, reason in CONTACT_REQUESTS:
        if reference != patient.reference:
            continue
        invitation = next(i for i in patient.invitations if i.timepoint == timepoint)
        asked_at = invitation.completed_at + timedelta(minutes=1)
        db.add(
            ContactRequest(
                invitation=invitation, patient_id=patient.id, reason=reason, created_at=asked_at
            )
        )
        db.flush()
        raise_for_contact(db, invitation, asked_at)
