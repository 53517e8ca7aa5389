"""The triage of a submit: `assessing`'s definitions, its item and audit event written as plain
rows (one statement on PostgreSQL) inside a savepoint, so that a failure rolls back the
triage alone, logged, and never the patient's answers."""

import functools
from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select
from sqlalchemy.orm import Session

from survey.domain import audit_trail
from survey.domain.triage import assessing
from survey.models import AuditEvent, Invitation, TriageItem, utcnow

NOT_READ = object()  # a caller that has not read the site's triage settings


def triage_submitted(
    db: Session, invitation: Invitation, now: datetime, responses=None, settings=NOT_READ
) -> int | None:
    """`assess_invitation` for a submit that has just completed the invitation (no item can
    exist for it yet), in a savepoint, so that a failure here rolls back the triage alone and
    never the answers. Returns the new item's id, or None (and logs) when triage failed.
    `responses`: the patient's responses the submit read after storing its own (its summary's
    rows), so that its history is not read again; `settings`, the site's rule settings as
    the submit read them with its lock (`settings_columns`; None: the site has none).

    The item and its audit event are written as plain rows (one statement on PostgreSQL), with
    the columns `assess_invitation` gives its ORM objects: the submit never uses them, and
    their two flushes cost more than the rest of its triage."""
    # The submit's own changes are written first, outside the savepoint triage may roll back.
    db.flush()
    connection = db.connection()
    try:
        # On the connection, not the session: nothing of triage's is in the session to
        # expire or keep, and the session's savepoint events are the outer transaction's.
        with connection.begin_nested():
            return _store_assessment(db, connection, invitation, now, responses, settings)
    except Exception:  # any failure at all: the patient's answers must still be stored
        assessing.logger.exception(
            "invitation %s: triage failed; the answers are stored, and "
            "`flask --app wsgi triage catch-up` will assess them",
            invitation.id,
        )
        return None


def _store_assessment(db, connection, invitation, now, responses, settings) -> int | None:
    site_id = invitation.patient.site_id
    if settings is NOT_READ:
        rules = assessing.rules_for(db, site_id)
    else:
        rules = assessing.rules_from(settings, site_id)
    assessment = assessing.assessment_of(db, invitation, rules, responses)
    if assessment is None:
        return None
    values = {
        f"item_{name}": value
        for name, value in assessing.item_values(invitation, assessment, rules, now).items()
    }
    detail = assessing.assessed_detail(invitation, assessment)
    event = {"event_occurred_at": utcnow(), "event_detail": detail}
    if connection.dialect.name == "postgresql":
        return connection.execute(_item_with_event(), values | event).scalar_one()
    item_id = connection.execute(_item_insert(), values).scalar_one()
    connection.execute(
        _event_insert(), event | {"event_item_id": item_id, "event_site_id": values["item_site_id"]}
    )
    return item_id


_ITEM_COLUMNS = (
    "site_id",
    "patient_id",
    "invitation_id",
    "level",
    "status",
    "findings",
    "assessed_at",
    "due_at",
)


@functools.cache
def _item_insert():
    """A triage item's row from `item_values` (as item_<column> parameters), returning its id."""
    items = TriageItem.__table__
    columns = {name: bindparam(f"item_{name}", type_=items.c[name].type) for name in _ITEM_COLUMNS}
    return insert(items).values(columns).returning(items.c.id)


def _event_columns(item_id, site_id) -> dict:
    """The "triage.assessed" audit event of an item, as `audit_trail.record` writes it."""
    events = AuditEvent.__table__
    return {
        "occurred_at": bindparam("event_occurred_at", type_=events.c.occurred_at.type),
        "site_id": site_id,
        "action": literal("triage.assessed", events.c.action.type),
        "subject_type": literal(audit_trail.subject_type(TriageItem), events.c.subject_type.type),
        "subject_id": item_id,
        "detail": bindparam("event_detail", type_=events.c.detail.type),
    }


@functools.cache
def _event_insert():
    events = AuditEvent.__table__
    columns = _event_columns(
        bindparam("event_item_id", type_=events.c.subject_id.type),
        bindparam("event_site_id", type_=events.c.site_id.type),
    )
    return insert(events).values(columns)


@functools.cache
def _item_with_event():
    """PostgreSQL: the item and its audit event in one statement (the event inserted from
    the item's RETURNING), returning the item's id."""
    events = AuditEvent.__table__
    item = _item_insert().returning(TriageItem.__table__.c.site_id).cte("new_item")
    columns = _event_columns(item.c.id, item.c.site_id)
    return (
        insert(events)
        .from_select(list(columns), select(*columns.values()))
        .add_cte(item)
        .returning(events.c.subject_id)
    )
