"""Triaging an answered timepoint: read the patient's history, apply the site's rules, store
one item. Plain functions over a database session, in the caller's transaction.

The submit of an invitation triages it in the transaction that stores its answers, inside a
savepoint (`submitted.triage_submitted`, with these definitions): whatever goes wrong with
triage is rolled back alone and logged, and the answers are stored all the same. A timepoint
left without an item that way is found and assessed, once, by `flask --app wsgi triage
catch-up`.
"""

import functools
import logging
from collections import defaultdict
from datetime import datetime

from flask import has_app_context
from sqlalchemy import ColumnElement, and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from survey.domain import audit_trail
from survey.domain.triage.findings import assess
from survey.domain.triage.rules import (
    ACTION_LEVELS,
    Answered,
    Assessment,
    RulesError,
    RuleSet,
    shipped_rules,
    site_rules,
)
from survey.instruments import CCIS
from survey.models import (
    Answer,
    ContactRequest,
    Invitation,
    Response,
    TriageItem,
    TriageSettings,
    TriageStatus,
)
from survey.settings import settings

logger = logging.getLogger("survey.triage.assessing")  # its name before the move: logs keep it
PAD_ITEM = "pad"


def pad_answer_of(pad) -> ColumnElement[bool]:
    """Joins `pad` (an alias of Answer) to a CCIS response's pad item, for the history's
    pad-only check; other questionnaires' responses get no row."""
    return and_(
        pad.response_id == Response.id,
        pad.item_id == PAD_ITEM,
        Response.instrument_id == CCIS,
    )


def rules_for(db: Session, site_id: int) -> RuleSet:
    """The rules a site uses: the shipped defaults with its own settings over them, and the
    clinic's CCIS_MEANINGFUL_CHANGE where a rule leaves the CCIS threshold to the MIC.
    Settings that no longer fit the rules (saved by an older release) are logged and left
    out, so a site is never left without triage."""
    settings = db.execute(_settings_statement(), {"triage_site_id": site_id}).first()
    return rules_from(settings, site_id)


def rules_from(settings, site_id: int) -> RuleSet:
    """`rules_for` from the site's settings already read (`settings_columns`: a row with
    `rules` and `due_hours`, or None when the site has none)."""
    rules = shipped_rules()
    if settings is not None and settings.rules is not None:
        try:
            rules = site_rules(settings.rules, settings.due_hours)
        except RulesError as error:
            logger.error("site %s: triage settings ignored, shipped rules used: %s", site_id, error)
    return rules.with_default_points(configured_points())


def settings_columns():
    """A site's rule settings as plain values, for a statement that reads them with others
    (the submit's lock: no statement of their own)."""
    return TriageSettings.rules.label("rules"), TriageSettings.due_hours.label("due_hours")


@functools.cache
def _settings_statement():
    """A site's rule settings as plain values (no ORM object, and built once per process)."""
    return select(*settings_columns()).where(TriageSettings.site_id == bindparam("triage_site_id"))


def configured_points() -> int | None:
    """The clinic's CCIS meaningful change (the same setting the pages and flags read), or
    None outside an application (the instrument's declared MIC then applies)."""
    if not has_app_context():
        return None
    return settings().ccis_meaningful_change  # checked at start: a whole number, at least 1


def patient_history(db: Session, patient_id: int, episode_id: int | None = None) -> list[Answered]:
    """The patient's answered timepoints, oldest first (by their first stored answers), each
    with its totals, the CCIS pad answer and whether the patient asked to be contacted; with
    `episode_id`, only that episode of care's (each episode has its own baseline)."""
    pad = aliased(Answer)
    rows = db.execute(
        select(
            Response.invitation_id,
            Invitation.timepoint,
            Response.instrument_id,
            Response.total,
            Response.submitted_at,
            pad.value,
        )
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(pad, pad_answer_of(pad))
        .where(
            Response.patient_id == patient_id,
            True if episode_id is None else Invitation.episode_id == episode_id,
        )
        .order_by(Response.submitted_at, Response.id)
    ).all()
    asked = set(
        db.scalars(
            select(ContactRequest.invitation_id).where(ContactRequest.patient_id == patient_id)
        )
    )
    return history_from_rows(rows, asked)


def history_from_rows(rows, asked: set[int]) -> list[Answered]:
    """Answered timepoints from (invitation id, timepoint, instrument, total, submitted at,
    pad answer) rows in submission order."""
    first_seen: dict[int, tuple] = {}
    totals: dict[int, dict[str, int]] = defaultdict(dict)
    pads: dict[int, int | None] = {}
    for invitation_id, timepoint, instrument_id, total, submitted_at, pad_value in rows:
        first_seen.setdefault(invitation_id, (submitted_at, invitation_id, timepoint))
        totals[invitation_id][instrument_id] = total
        if instrument_id == CCIS:
            pads[invitation_id] = pad_value
    return [
        Answered(
            invitation_id=invitation_id,
            timepoint=timepoint,
            totals=totals[invitation_id],
            ccis_pad=pads.get(invitation_id),
            contact_requested=invitation_id in asked,
        )
        for _at, invitation_id, timepoint in sorted(first_seen.values(), key=lambda v: v[:2])
    ]


def history_of_responses(responses, episode_id: int | None = None) -> list[Answered]:
    """`patient_history` from rows already read: the patient's responses oldest first, each
    with `invitation_id`, `timepoint`, `instrument_id`, `total`, `submitted_at`, `pad` (the
    CCIS pad answer), `contact_requested` and its invitation's `episode_id` (the rows a
    submit's `summaries.refresh_summary` read)."""
    mine = [r for r in responses if episode_id is None or r.episode_id == episode_id]
    asked = {r.invitation_id for r in mine if r.contact_requested}
    rows = [
        (r.invitation_id, r.timepoint, r.instrument_id, r.total, r.submitted_at, r.pad)
        for r in mine
    ]
    return history_from_rows(rows, asked)


def assessment_of(
    db: Session, invitation: Invitation, rules: RuleSet | None = None, responses=None
) -> Assessment | None:
    """The level and findings of one answered invitation, judged on its episode of care's
    history up to it (never on later answers); None when it has no stored answers. `rules`
    are the site's (`rules_for`), read here when not given; `responses`, the patient's rows
    as `history_of_responses` reads them, likewise."""
    if responses is None:
        history = patient_history(db, invitation.patient_id, invitation.episode_id)
    else:
        history = history_of_responses(responses, invitation.episode_id)
    place = next((i for i, e in enumerate(history) if e.invitation_id == invitation.id), None)
    if place is None:
        return None
    if rules is None:
        rules = rules_for(db, invitation.patient.site_id)
    return assess(history[: place + 1], rules)


def assess_invitation(db: Session, invitation: Invitation, now: datetime) -> TriageItem | None:
    """Triage an answered invitation and add its item (nothing when it already has one, or
    has no answers). Flushes; the caller commits. The unique constraint on the item's
    invitation keeps one item per timepoint when two transactions assess it at once. A
    submit's own triage is `submitted.triage_submitted`, with the same definitions."""
    existing = item_of(db, invitation.id)
    if existing is not None:
        return existing
    rules = rules_for(db, invitation.patient.site_id)
    assessment = assessment_of(db, invitation, rules)
    if assessment is None:
        return None
    item = TriageItem(**item_values(invitation, assessment, rules, now))
    try:
        with db.begin_nested():
            db.add(item)
            db.flush()
    except IntegrityError:
        # Another transaction triaged this timepoint first: one item per timepoint, theirs.
        return item_of(db, invitation.id)
    audit_trail.record(
        db,
        "triage.assessed",
        subject=item,
        detail=assessed_detail(invitation, assessment),
    )
    return item


def item_values(
    invitation: Invitation, assessment: Assessment, rules: RuleSet, now: datetime
) -> dict:
    """The columns of an invitation's new triage item (the ORM object's, or the submit's
    INSERT's)."""
    due_after = rules.due_after(assessment.level)
    return {
        "site_id": invitation.patient.site_id,
        "patient_id": invitation.patient_id,
        "invitation_id": invitation.id,
        "level": assessment.level,
        "status": TriageStatus.OPEN
        if assessment.level in ACTION_LEVELS
        else TriageStatus.NOT_NEEDED,
        "findings": [finding.as_dict() for finding in assessment.findings],
        "assessed_at": now,
        "due_at": now + due_after if due_after else None,
    }


def assessed_detail(invitation: Invitation, assessment: Assessment) -> dict:
    """The detail of a "triage.assessed" audit event."""
    return {
        "level": str(assessment.level),
        "rules": [finding.rule_id for finding in assessment.findings],
        "invitation": invitation.id,
    }


def item_of(db: Session, invitation_id: int) -> TriageItem | None:
    return db.scalar(select(TriageItem).where(TriageItem.invitation_id == invitation_id))
