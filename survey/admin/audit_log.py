"""Reading the audit trail: what an admin may see, filtered, newest first, a page at a time.

An admin sees the events of their own sites, and events tied to no site (sign-ins, account
changes from the command line) by or about staff who share a site with them. Events tied to
nobody at all (a failed sign-in with an address no account has) belong to the whole
installation: only an admin of every site sees them, so that one clinic's admin does not
read the addresses typed at another's. Pages are keyed on the
event id (`before`), so a page deep in a long trail is as quick as the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from survey.models import AuditEvent, Patient, Site, User, site_memberships
from survey.querystring import parse_whole_number

MAX_TEXT = 254


@dataclass
class AuditFilters:
    user: str = ""  # email address, exact (any case)
    action: str = ""  # exact action or its start, e.g. "export" or "patient.view"
    patient: str = ""  # a patient reference
    day: date | None = None
    before: int | None = None  # show events older than this id
    ignored: list[str] = field(default_factory=list)

    def as_args(self, **changes) -> dict[str, str]:
        args = {
            "user": self.user,
            "action": self.action,
            "patient": self.patient,
            "day": self.day.isoformat() if self.day else "",
        }
        args.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in args.items() if value}


@dataclass
class AuditPage:
    events: list[AuditEvent]
    patients: dict[int, Patient]  # subject id -> patient, for events about patients
    older: int | None  # `before` for the next page, or None at the end


def parse_filters(args) -> AuditFilters:
    """Read and check the audit log's query parameters; refused ones are named, not used."""
    filters = AuditFilters()
    for name in ("user", "action", "patient"):
        value = args.get(name, "").strip()
        if len(value) <= MAX_TEXT and value.isprintable():
            setattr(filters, name, value)
        else:
            filters.ignored.append(name)
    if value := args.get("day", ""):
        try:
            filters.day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            filters.day = None
        if filters.day is None:
            filters.ignored.append("day")
    if value := args.get("before", ""):
        if (before := parse_whole_number(value, longest=18)) is not None:
            filters.before = before
        else:
            filters.ignored.append("before")
    return filters


def visible_events(db: Session, admin: User):
    """The events an admin may read (see the module's rule)."""
    colleagues = select(site_memberships.c.user_id).where(
        site_memberships.c.site_id.in_(admin.site_ids)
    )
    about_a_colleague = or_(
        AuditEvent.user_id.in_(colleagues),
        and_(AuditEvent.subject_type == "user", AuditEvent.subject_id.in_(colleagues)),
    )
    rules = [
        AuditEvent.site_id.in_(admin.site_ids),
        and_(AuditEvent.site_id.is_(None), about_a_colleague),
    ]
    if _admin_of_every_site(db, admin):
        unattributed = and_(
            AuditEvent.site_id.is_(None),
            AuditEvent.user_id.is_(None),
            AuditEvent.subject_id.is_(None),
        )
        rules.append(unattributed)
    return select(AuditEvent).where(or_(*rules))


def _admin_of_every_site(db: Session, admin: User) -> bool:
    return db.scalar(select(func.count(Site.id)).where(Site.id.not_in(admin.site_ids))) == 0


def audit_page(db: Session, admin: User, filters: AuditFilters, size: int) -> AuditPage:
    """One page of the trail, newest first."""
    query = visible_events(db, admin).options(selectinload(AuditEvent.user))
    if filters.user:
        query = query.where(
            AuditEvent.user_id.in_(
                select(User.id).where(func.lower(User.email) == filters.user.lower())
            )
        )
    if filters.action:
        query = query.where(
            or_(
                AuditEvent.action == filters.action,
                AuditEvent.action.startswith(filters.action.rstrip(".") + ".", autoescape=True),
            )
        )
    if filters.patient:
        patient_ids = select(Patient.id).where(
            Patient.reference == filters.patient, Patient.site_id.in_(admin.site_ids)
        )
        query = query.where(
            AuditEvent.subject_type == "patient", AuditEvent.subject_id.in_(patient_ids)
        )
    if filters.day and filters.day < date.max:
        start = datetime.combine(filters.day, time.min, UTC)
        query = query.where(
            AuditEvent.occurred_at >= start, AuditEvent.occurred_at < start + timedelta(days=1)
        )
    if filters.before is not None:
        query = query.where(AuditEvent.id < filters.before)
    events = db.scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)).all()
    shown = list(events[:size])
    patient_ids = {e.subject_id for e in shown if e.subject_type == "patient" and e.subject_id}
    patients = (
        {
            patient.id: patient
            for patient in db.scalars(
                select(Patient).where(
                    Patient.id.in_(patient_ids), Patient.site_id.in_(admin.site_ids)
                )
            )
        }
        if patient_ids
        else {}
    )
    return AuditPage(shown, patients, shown[-1].id if len(events) > size else None)
