"""Recording what staff see and change. Plain functions; the view helper adds request context."""

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.models import AuditEvent, User


def record(
    session: Session,
    action: str,
    *,
    user: User | None = None,
    site_id: int | None = None,
    subject=None,
    detail: dict | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it commits with the change it describes."""
    event = AuditEvent(
        action=action,
        user_id=user.id if user else None,
        site_id=site_id if site_id is not None else getattr(subject, "site_id", None),
        subject_type=subject_type(type(subject)) if subject is not None else None,
        subject_id=getattr(subject, "id", None),
        detail=detail or {},
        remote_addr=remote_addr,
    )
    session.add(event)
    return event


def subject_type(kind: type) -> str:
    """How events name the kind of record they are about ("triageitem", "patient")."""
    return kind.__name__.lower()


def log(action: str, subject=None, detail: dict | None = None, site_id: int | None = None):
    """Record an action of the signed-in staff member in this request."""
    return record(
        db.session,
        action,
        user=g.get("user"),
        site_id=site_id,
        subject=subject,
        detail=detail,
        remote_addr=request_address(),
    )


def request_address() -> str | None:
    """The address the current request came from (None outside a request)."""
    return request.remote_addr if has_request_context() else None
