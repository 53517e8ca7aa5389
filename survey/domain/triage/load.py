"""The alert load: the share of answered timepoints (answered questionnaire sets) at each
level, to set against published experience (7.8% of questionnaires alerted at Memorial Sloan
Kettering, 34% of surveys in PRO-TECT; docs/clinicians.md).

Two ways to count: `stored_load` reads the items the service wrote at each submit; and
`replayed_load` runs each site's current rules over every answered timepoint there is, as if
each had just been submitted in order, which also measures data written in bulk (the
benchmark seed) or answered before triage existed. Both only read."""

from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from survey.domain.triage.assessing import history_from_rows, pad_answer_of, rules_for
from survey.domain.triage.findings import assess
from survey.models import (
    Answer,
    ContactRequest,
    Invitation,
    Patient,
    Response,
    TriageItem,
    TriageLevel,
)

BATCH = 10_000


@dataclass
class AlertLoad:
    answered: int = 0
    levels: Counter = field(default_factory=Counter)  # level -> timepoints
    rules: Counter = field(default_factory=Counter)  # rule id -> timepoints it matched
    patients: int = 0

    def share(self, level: str) -> float:
        """The share of answered timepoints at `level`, 0 to 1."""
        return self.levels[str(level)] / self.answered if self.answered else 0.0

    @property
    def alerting(self) -> float:
        """The share that needs someone (yellow or red)."""
        return self.share(TriageLevel.YELLOW) + self.share(TriageLevel.RED)


def stored_load(db: Session, site_ids: list[int] | None = None) -> AlertLoad:
    """The levels the service gave at submit, from the stored items."""
    load = AlertLoad()
    query = select(TriageItem.level, TriageItem.findings)
    if site_ids is not None:
        query = query.where(TriageItem.site_id.in_(site_ids))
    for level, findings in db.execute(query.execution_options(yield_per=BATCH)):
        load.answered += 1
        load.levels[str(level)] += 1
        load.rules.update({finding["rule"] for finding in findings})
    patients = select(func.count(func.distinct(TriageItem.patient_id)))
    if site_ids is not None:
        patients = patients.where(TriageItem.site_id.in_(site_ids))
    load.patients = db.scalar(patients)
    return load


def replayed_load(
    db: Session, site_ids: list[int] | None = None, limit: int | None = None
) -> AlertLoad:
    """Each site's current rules over every answered timepoint, oldest first per patient
    (at most `limit` patients, the lowest ids). Reads the responses once, in batches."""
    patients = select(Patient.id, Patient.site_id).order_by(Patient.id)
    if site_ids is not None:
        patients = patients.where(Patient.site_id.in_(site_ids))
    if limit is not None:
        patients = patients.limit(limit)
    sites = dict(db.execute(patients).all())
    if not sites:
        return AlertLoad()
    asked = set(db.scalars(select(ContactRequest.invitation_id)))
    rule_sets = {site_id: rules_for(db, site_id) for site_id in set(sites.values())}
    pad = aliased(Answer)
    rows = db.execute(
        select(
            Response.patient_id,
            Response.invitation_id,
            Invitation.timepoint,
            Response.instrument_id,
            Response.total,
            Response.submitted_at,
            pad.value,
        )
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(pad, pad_answer_of(pad))
        .where(Response.patient_id.between(min(sites), max(sites)))
        .order_by(Response.patient_id, Response.submitted_at, Response.id)
        .execution_options(yield_per=BATCH)
    )
    load = AlertLoad()
    for patient_id, patient_rows in groupby(rows, key=lambda row: row[0]):
        if patient_id not in sites:
            continue
        history = history_from_rows((row[1:] for row in patient_rows), asked)
        load.patients += 1
        for place in range(len(history)):
            assessment = assess(history[: place + 1], rule_sets[sites[patient_id]])
            load.answered += 1
            load.levels[str(assessment.level)] += 1
            load.rules.update({finding.rule_id for finding in assessment.findings})
    return load
