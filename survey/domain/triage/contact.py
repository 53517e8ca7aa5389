"""A patient's "please contact me" at the end of an invitation.

It puts the timepoint on the worklist at the contact rule's level (red, the top) whatever the
scores: the timepoint's item is created, raised, or opened again if it was closed. The reason
is the patient's own words and is stored only in the request row: never in a URL, an SMS, a
log line or the audit trail.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey.domain import audit_trail
from survey.domain.freetext import FreeTextRefused, clean_free_text
from survey.domain.triage.assessing import assess_invitation, item_of, rules_for
from survey.domain.triage.rules import CONTACT_REQUEST, Finding, highest
from survey.models import (
    ContactRequest,
    Invitation,
    InvitationStatus,
    TriageItem,
    TriageStatus,
)

REASON_MAX = 500


ReasonRefused = FreeTextRefused  # the reason cannot be stored as written


class NotAnswered(Exception):
    """Contact can be asked for at the end of an answered invitation only."""


@dataclass(frozen=True)
class Requested:
    request: ContactRequest
    first_time: bool


def clean_reason(text: str | None) -> str:
    """The reason as stored (survey.domain.freetext); ReasonRefused for more than REASON_MAX
    characters or characters no page keeps (NUL, which PostgreSQL cannot store, included)."""
    return clean_free_text(text, REASON_MAX)


def request_for(db: Session, invitation_id: int) -> ContactRequest | None:
    return db.scalar(select(ContactRequest).where(ContactRequest.invitation_id == invitation_id))


def request_contact(db: Session, invitation_id: int, reason: str, now: datetime) -> Requested:
    """Record the request (once per invitation) and put the timepoint on the worklist at the
    contact rule's level, in one transaction, and commit. Asking again returns the first
    request unchanged. Raises NotAnswered before the invitation is completed, and
    ReasonRefused (nothing stored) for a reason that cannot be kept."""
    reason = clean_reason(reason)
    invitation = db.scalars(
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if invitation.status != InvitationStatus.COMPLETED:
        db.rollback()
        raise NotAnswered()
    if (earlier := request_for(db, invitation_id)) is not None:
        db.rollback()
        return Requested(earlier, first_time=False)
    request = ContactRequest(
        invitation_id=invitation_id,
        patient_id=invitation.patient_id,
        reason=reason,
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(request)
            db.flush()
    except IntegrityError:
        # A second tap that raced the first (where the row lock is not enforced): one request.
        db.rollback()
        return Requested(request_for(db, invitation_id), first_time=False)
    raise_for_contact(db, invitation, now)
    db.commit()
    return Requested(request, first_time=True)


def raise_for_contact(db: Session, invitation: Invitation, now: datetime) -> TriageItem:
    """Put the invitation's timepoint on the worklist for a contact request just added:
    assess it (with the request) if it never was, else raise its item and open it again."""
    item = item_of(db, invitation.id)
    if item is None:
        # Never triaged (it failed at submit): assessed now, with the request in its history.
        return assess_invitation(db, invitation, now)
    item = db.scalars(
        select(TriageItem)
        .where(TriageItem.id == item.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    rules = rules_for(db, invitation.patient.site_id)
    rule = rules.rule(CONTACT_REQUEST)
    finding = Finding(CONTACT_REQUEST, rule.level, {}, rule.source)
    before = {"level": str(item.level), "status": str(item.status)}
    item.findings = [*item.findings, finding.as_dict()]
    item.level = highest([item.level, rule.level])
    due = now + rules.due_after(item.level)
    if item.status == TriageStatus.OPEN:
        item.due_at = min(item.due_at, due) if item.due_at else due
        action = "triage.contact_requested"
    else:
        # Green, or closed: the patient's request puts it (back) on the worklist.
        action = "triage.raised" if item.status == TriageStatus.NOT_NEEDED else "triage.reopened"
        item.status, item.due_at = TriageStatus.OPEN, due
        item.assignee_id = item.taken_at = None
        item.outcome = item.outcome_note = item.outcome_at = item.outcome_by_id = None
        item.closed_at = item.closed_by_id = None
    audit_trail.record(
        db,
        action,
        subject=item,
        detail={"because": "contact request", "before": before, "level": str(item.level)},
    )
    return item
