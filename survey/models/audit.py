"""The audit trail of what staff saw and changed. Rows are only ever added."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.sites_and_staff import User


class AuditEvent(Base):
    """Who did what to which record, when, and from where."""

    __tablename__ = "audit_events"
    # The audit viewer answers "who looked at this record".
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    action: Mapped[str] = mapped_column(String(64))  # "patient.view", "login.failed", ...
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User | None] = relationship()


class AuditTrailIsInsertOnly(RuntimeError):
    """Raised when code tries to change or remove an audit event."""


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_changes(mapper, connection, target) -> None:
    raise AuditTrailIsInsertOnly("audit events are never changed or deleted")
