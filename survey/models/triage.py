"""Triage: each answered timepoint's level, the worklist item it becomes, the patient's own
request to be contacted, and each site's rules."""

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.invitation import Invitation
from survey.models.patient import Patient
from survey.models.sites_and_staff import Site, User


class TriageLevel(enum.StrEnum):
    """What an answered timepoint needs (AmbuFlex's colours): the next questionnaire as
    planned, a phone call, or prompt contact (a clinic visit)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)


LEVEL_ORDER = (TriageLevel.GREEN, TriageLevel.YELLOW, TriageLevel.RED)


class TriageStatus(enum.StrEnum):
    OPEN = "open"  # on the worklist: someone must act
    CLOSED = "closed"  # acted on, outcome recorded
    NOT_NEEDED = "not needed"  # green: nothing to do until the next questionnaire


class TriageOutcome(enum.StrEnum):
    CALLED = "called"
    VISIT_BOOKED = "visit booked"
    NO_ACTION = "no action needed"


class TriageItem(Base):
    """The triage of one answered timepoint: its level, the evidence the rules found (with
    their sources, as they stood when it was assessed), and, when it needs action, its way
    through the worklist: taken by someone, an outcome recorded, closed. Every step is in
    the audit trail (subject `triageitem`)."""

    __tablename__ = "triage_items"
    __table_args__ = (
        # One item per patient per timepoint, never one per rule: a second assessment of the
        # same invitation (a race, a retry) cannot add a second item.
        UniqueConstraint("invitation_id"),
        # The worklist: a site's open items, soonest due first.
        Index("ix_triage_items_worklist", "site_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    level: Mapped[TriageLevel] = mapped_column(String(8))
    status: Mapped[TriageStatus] = mapped_column(String(16))
    # What each matching rule found: rule id, level, figures, source, extrapolation.
    findings: Mapped[list[dict]] = mapped_column(JSON, default=list)
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None]
    outcome: Mapped[TriageOutcome | None] = mapped_column(String(32))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None]
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    site: Mapped[Site] = relationship()
    patient: Mapped[Patient] = relationship()
    invitation: Mapped[Invitation] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    outcome_by: Mapped[User | None] = relationship(foreign_keys=[outcome_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    def is_overdue(self, now: datetime) -> bool:
        return self.status == TriageStatus.OPEN and self.due_at is not None and now > self.due_at

    def __repr__(self) -> str:
        return f"<TriageItem {self.id} {self.level} {self.status}>"


class ContactRequest(Base):
    """A patient's "please contact me", given at the end of an invitation. The reason is the
    patient's own words, health data: it lives here only, never in a URL, an SMS or the
    audit trail."""

    __tablename__ = "contact_requests"
    __table_args__ = (UniqueConstraint("invitation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    invitation: Mapped[Invitation] = relationship()


class TriageSettings(Base):
    """A site's own triage settings, over the shipped defaults (survey/domain/triage/defaults.json):
    each rule's level and threshold, the due time per level, and what the patient is told
    after asking to be contacted, per language. Empty means the defaults."""

    __tablename__ = "triage_settings"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict] = mapped_column(JSON, default=dict)  # rule id -> {"level", "points"}
    due_hours: Mapped[dict] = mapped_column(JSON, default=dict)  # level -> hours
    contact_reply: Mapped[dict] = mapped_column(JSON, default=dict)  # language -> text
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
