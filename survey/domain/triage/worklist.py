"""The worklist: what needs action at the user's sites, and the steps that close the loop.

A clinician takes an item (it becomes theirs), records what was done (called, visit booked,
no action needed, with a note) and closes it. Each step locks the item, checks it still
stands where the clinician saw it, and is written to the audit trail with who and when, in
the transaction that makes it. Plain functions over a session; the views are thin.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, joinedload

from survey.domain import audit_trail
from survey.domain.freetext import FreeTextRefused, clean_free_text
from survey.models import (
    ContactRequest,
    Invitation,
    Patient,
    Site,
    TriageItem,
    TriageLevel,
    TriageOutcome,
    TriageStatus,
    User,
)

NOTE_MAX = 1000
VIEWS = ("open", "mine", "closed")
# Red first, then yellow: the order staff should work in.
LEVEL_RANK = case((TriageItem.level == TriageLevel.RED, 0), else_=1)


class WorklistConflict(Exception):
    """The item is no longer where the user saw it (closed, taken by someone else); the
    message (English) is for logs, `kind` for the page."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class BadStep(ValueError):
    """A step with a value the form never offers; `kind` names the field."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class WorklistRow:
    item: TriageItem
    reference: str
    timepoint: str
    asked_contact: bool
    overdue: bool


@dataclass(frozen=True)
class SiteCount:
    site: Site
    red: int
    yellow: int
    overdue: int


def visible_items(user: User) -> Select[tuple[TriageItem]]:
    """The items of the user's sites, and only those."""
    return select(TriageItem).where(TriageItem.site_id.in_(user.site_ids))


def item_for(db: Session, user: User, item_id: int, lock: bool = False) -> TriageItem | None:
    """The item if the user may see it; None when absent or at another site alike."""
    query = visible_items(user).where(TriageItem.id == item_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalar(query)


def worklist(
    db: Session,
    user: User,
    view: str,
    now: datetime,
    site_id: int | None = None,
    limit: int = 200,
) -> list[WorklistRow]:
    """The items of one view: "open" (to act on: red first, then by due time, so overdue
    items come first within a level), "mine" (open and taken by the user), or "closed"
    (newest first)."""
    query = (
        visible_items(user)
        .join(Patient, Patient.id == TriageItem.patient_id)
        .join(Invitation, Invitation.id == TriageItem.invitation_id)
        .add_columns(Patient.reference, Invitation.timepoint, ContactRequest.id)
        .outerjoin(ContactRequest, ContactRequest.invitation_id == TriageItem.invitation_id)
        .options(joinedload(TriageItem.assignee), joinedload(TriageItem.site))
        .limit(limit)
    )
    if site_id is not None:
        query = query.where(TriageItem.site_id == site_id)
    if view == "closed":
        query = query.where(TriageItem.status == TriageStatus.CLOSED).order_by(
            TriageItem.closed_at.desc(), TriageItem.id.desc()
        )
    else:
        query = query.where(TriageItem.status == TriageStatus.OPEN).order_by(
            TriageItem.site_id, LEVEL_RANK, TriageItem.due_at, TriageItem.id
        )
        if view == "mine":
            query = query.where(TriageItem.assignee_id == user.id)
    return [
        WorklistRow(item, reference, timepoint, request_id is not None, item.is_overdue(now))
        for item, reference, timepoint, request_id in db.execute(query)
    ]


def open_counts(db: Session, user: User, now: datetime) -> list[SiteCount]:
    """Per site of the user: open red and yellow items, and how many are overdue."""
    rows = db.execute(
        select(
            TriageItem.site_id,
            func.count().filter(TriageItem.level == TriageLevel.RED),
            func.count().filter(TriageItem.level == TriageLevel.YELLOW),
            func.count().filter(TriageItem.due_at < now),
        )
        .where(TriageItem.site_id.in_(user.site_ids), TriageItem.status == TriageStatus.OPEN)
        .group_by(TriageItem.site_id)
    ).all()
    found = {site_id: (red, yellow, overdue) for site_id, red, yellow, overdue in rows}
    return [SiteCount(site, *found.get(site.id, (0, 0, 0))) for site in user.sites]


# -- the steps ------------------------------------------------------------------------------


def take(
    db: Session, item: TriageItem, user: User, seen_assignee: int | None, now: datetime
) -> None:
    """Make the open item the user's. `seen_assignee` is who had it when the user chose to
    take it (None: nobody): if that changed meanwhile, nothing is done (WorklistConflict),
    so two clinicians never both think it is theirs."""
    _require_open(item)
    if item.assignee_id != seen_assignee:
        raise WorklistConflict("taken", f"item {item.id} now belongs to user {item.assignee_id}")
    if item.assignee_id == user.id:
        return
    previous = item.assignee_id
    item.assignee_id, item.taken_at = user.id, now
    _trail(db, "triage.taken", item, user, {"from_user": previous})
    db.commit()


def record_outcome(
    db: Session, item: TriageItem, user: User, outcome: str, note: str, now: datetime
) -> None:
    """Record what was done for the open item the user has taken."""
    _require_open(item)
    if item.assignee_id != user.id:
        raise WorklistConflict("not yours", f"item {item.id} belongs to user {item.assignee_id}")
    try:
        outcome = TriageOutcome(outcome)
    except ValueError:
        raise BadStep("outcome") from None
    try:
        note = clean_free_text(note, NOTE_MAX)
    except FreeTextRefused:
        raise BadStep("note") from None
    item.outcome, item.outcome_note = outcome, note
    item.outcome_at, item.outcome_by_id = now, user.id
    # The note is the clinician's record of what was done: kept in the trail too, since a
    # later outcome (or the patient asking again) replaces it on the item.
    _trail(db, "triage.outcome", item, user, {"outcome": str(outcome), "note": note})
    db.commit()


def close(db: Session, item: TriageItem, user: User, now: datetime) -> None:
    """Close the open item once the user who has it recorded an outcome."""
    _require_open(item)
    if item.assignee_id != user.id:
        raise WorklistConflict("not yours", f"item {item.id} belongs to user {item.assignee_id}")
    if item.outcome is None:
        raise WorklistConflict("no outcome", f"item {item.id} has no outcome yet")
    item.status, item.closed_at, item.closed_by_id = TriageStatus.CLOSED, now, user.id
    _trail(db, "triage.closed", item, user, {"outcome": str(item.outcome)})
    db.commit()


def _trail(db: Session, action: str, item: TriageItem, user: User, detail: dict) -> None:
    audit_trail.record(
        db,
        action,
        user=user,
        subject=item,
        detail=detail,
        remote_addr=audit_trail.request_address(),
    )


def _require_open(item: TriageItem) -> None:
    if item.status != TriageStatus.OPEN:
        raise WorklistConflict("closed", f"item {item.id} is {item.status}")
