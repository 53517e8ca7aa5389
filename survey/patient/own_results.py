"""A patient's own totals over time, after sending, where their site chose to show them
(`Site.patient_results`, off by default).

Patients see their own results to prepare a consultation, as in the KLIK PROM portal (its
evaluation: Haverman L, et al. Pediatrics 2013;131:e533-43, doi:10.1542/peds.2012-0958):
their totals by date, in plain words, with which way is better. No band names (they would
read as diagnoses), no comparison with other patients, no flags: those are for the care
team."""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.wording_in_use import instruments_in_use
from survey.instruments import Instrument
from survey.models import Invitation, Response


@dataclass(frozen=True)
class OwnCourse:
    """One questionnaire's totals for the patient, oldest first."""

    instrument: Instrument
    totals: list[tuple[date, int]]


def own_results(db: Session, invitation: Invitation) -> list[OwnCourse]:
    """The patient's totals per questionnaire, dated on their own clock."""
    patient = invitation.patient
    zone = ZoneInfo(patient.timezone)
    rows = db.execute(
        select(Response.instrument_id, Response.submitted_at, Response.total)
        .where(Response.patient_id == patient.id)
        .order_by(Response.submitted_at, Response.id)
    ).all()
    by_instrument: dict[str, list[tuple[date, int]]] = {}
    for instrument_id, submitted_at, total in rows:
        by_instrument.setdefault(instrument_id, []).append(
            (submitted_at.astimezone(zone).date(), total)
        )
    instruments = instruments_in_use(db, list(by_instrument))
    return [OwnCourse(instrument, by_instrument[instrument.id]) for instrument in instruments]
