"""The one place a message changes status: which steps are allowed, the event each leaves in
the message's history, and the timestamps that go with it.

Every writer moves messages through this module, in one of two ways with the same
bookkeeping (`bookkeeping` says which columns a step sets):
- `transition(message, to)` moves one loaded `Message` (coordinators' actions, provider
  reports, cancelling in `invitation_messages`);
- `move(db, to, where=...)` moves every message a condition selects in one set-based
  statement, guarded by the statuses the table allows to reach `to` (the dispatcher's claims
  and outcomes, its sweeps). It returns the ids it moved: a message that had moved on
  meanwhile (a late report, another dispatcher) is simply not among them.

A step the table does not allow raises `InvalidTransition` in `transition` (a bug, or a late
report the caller should have ignored), so no writer can keep its own bookkeeping. A test
(tests/outreach/test_message_status.py) reads the source and fails if code outside this
module assigns a message's status.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from survey.domain.analytics import refresh_invitation_facts
from survey.models import Message, MessageEvent, MessageStatus

S = MessageStatus
PROVIDER_REPORTS = (S.QUEUED, S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED)
ALLOWED: dict[MessageStatus, frozenset[MessageStatus]] = {
    # Claimed; cancelled (not needed, by staff); failed before any send (no number).
    S.PENDING: frozenset({S.SENDING, S.CANCELLED, S.FAILED}),
    # The provider's answer; back to pending to retry (or while the channel is paused);
    # review when nobody can tell whether it went.
    S.SENDING: frozenset({*PROVIDER_REPORTS, S.PENDING, S.REVIEW}),
    # An unknown outcome learns its fate from a late answer or status report.
    S.REVIEW: frozenset({*PROVIDER_REPORTS, S.PENDING}),
    S.QUEUED: frozenset({S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.UNDELIVERED: frozenset(),
    S.FAILED: frozenset(),
    # A coordinator's cancel is undone while nothing of the invitation has gone.
    S.CANCELLED: frozenset({S.PENDING}),
}
FINAL = frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED, S.CANCELLED})
# `bookkeeping` marks the attempt counter with this: one more than it was.
NEXT_ATTEMPT = object()
# Columns a caller of `move` may set alongside the status: what the step learnt, never the
# status or its bookkeeping.
EXTRA_COLUMNS = frozenset(
    {"due_at", "wait_reason", "language", "phone", "provider_sid", "provider_status", "segments"}
)


class InvalidTransition(ValueError):
    """A status change the message's life does not allow."""


def can_move(message: Message, to: MessageStatus) -> bool:
    return to in ALLOWED[MessageStatus(message.status)]


def sources_of(to: MessageStatus) -> frozenset[MessageStatus]:
    """The statuses from which a message may move to `to`."""
    return frozenset(before for before, targets in ALLOWED.items() if to in targets)


def bookkeeping(
    before: MessageStatus,
    to: MessageStatus,
    *,
    at: datetime,
    reason: str | None = None,
    source: str = "dispatcher",
    error_code: int | None = None,
) -> dict[str, Any]:
    """The columns a step from `before` to `to` sets, and their values (the attempt counter
    as `NEXT_ATTEMPT`). Raises InvalidTransition for a step the table does not allow."""
    if to not in ALLOWED[before]:
        raise InvalidTransition(f"{before} -> {to}")
    values: dict[str, Any] = {"status": to, "error_code": error_code, "reason": reason}
    if to == S.SENDING:
        values.update(attempts=NEXT_ATTEMPT, claimed_at=at, sent_at=at)
    if to != S.PENDING or before == S.CANCELLED:
        values["wait_reason"] = None
    if to == S.PENDING or (
        to == S.FAILED and before in (S.SENDING, S.REVIEW) and source != "provider"
    ):
        values["sent_at"] = None  # it did not go: it does not count towards the limits
    if to in FINAL:
        values["finished_at"] = at
    elif before in FINAL:
        values["finished_at"] = None
    return values


def transition(
    message: Message,
    to: MessageStatus,
    *,
    at: datetime,
    reason: str | None = None,
    source: str = "dispatcher",
    error_code: int | None = None,
) -> None:
    """Move `message` to `to` at `at`, noting the step in its history."""
    before = MessageStatus(message.status)
    try:
        values = bookkeeping(before, to, at=at, reason=reason, source=source, error_code=error_code)
    except InvalidTransition:
        raise InvalidTransition(f"message {message.id}: {before} -> {to}") from None
    for column, value in values.items():
        if value is NEXT_ATTEMPT:
            value = (message.attempts or 0) + 1
        setattr(message, column, value)
    _event(message, at, to, source, error_code=error_code, reason=reason)


# The steps are Core statements on the tables: no ORM objects, no session synchronising.
MESSAGES, EVENTS = Message.__table__, MessageEvent.__table__


class _Slot:
    """A value `bookkeeping` passes through unchanged, standing for a step's own argument:
    what a prepared `Step` binds at each run."""

    def __init__(self, name: str) -> None:
        self.name = name


AT, REASON, ERROR_CODE = _Slot("at"), _Slot("reason"), _Slot("error_code")


class Step:
    """A set-based status step, prepared once: every message `where` selects whose status may
    step to `to` (and is in `only_from`, if given) moves to `to`, with the same bookkeeping and
    event as `transition`, in one statement on PostgreSQL.

    `where` may hold bind parameters (`bindparam("message_id")`), given at each `run`;
    `values` names the columns the step learnt (EXTRA_COLUMNS), also given at each run; `also`
    is a further INSERT run with it (PostgreSQL: in the same statement, so one round trip
    claims a message and mints its link) whether or not a row moved: a caller passing one
    holds the row's lock, and rolls back if the message did not move after all.

    `run_many` runs the step for a list of rows of those parameters: on PostgreSQL in the
    same one statement, each parameter a row gives becoming a column of `unnest` over one
    array per parameter (the dispatcher's batch: one round trip for all its messages).

    The statements are built on the first run and kept (the dispatcher runs the same few
    steps for every message: building and hashing them each time cost more than the send)."""

    def __init__(
        self,
        to: MessageStatus,
        *,
        where: ColumnElement[bool],
        source: str = "dispatcher",
        only_from: Iterable[MessageStatus] | None = None,
        values: Iterable[str] = (),
        also=None,
    ) -> None:
        self.to, self.where, self.source, self.also = to, where, source, also
        self.values = tuple(values)
        if unknown := set(self.values) - EXTRA_COLUMNS:
            raise ValueError(f"a Step does not set {sorted(unknown)}: the status step does")
        allowed = sources_of(to)
        if only_from is not None:
            allowed &= frozenset(only_from)
        # States whose step to `to` keeps the same books move together, in one statement.
        self.groups: dict[tuple, list[MessageStatus]] = {}
        for before in sorted(allowed):
            books = bookkeeping(
                before, to, at=AT, reason=REASON, source=source, error_code=ERROR_CODE
            )
            key = tuple(sorted(books.items(), key=lambda item: item[0]))
            self.groups.setdefault(key, []).append(before)
        self.statements: dict[tuple, list] = {}
        # A step that hands a text to the provider or takes one back changes its invitation's
        # kept facts (first text, reminders before the answers) and so its analytics counts.
        self.moves_sent_at = any("sent_at" in dict(books) for books in self.groups)

    def _build(self, postgresql: bool, per_row: tuple[str, ...] = ()) -> list:
        where, also, rows = self.where, self.also, None
        if per_row:  # PostgreSQL only: the rows' parameters become the columns of `rows`
            types = {column: MESSAGES.c[column].type for column in self.values}
            for clause in (where, also):
                for element in visitors.iterate(clause) if clause is not None else ():
                    if isinstance(element, BindParameter):
                        types.setdefault(element.key, element.type)
            arrays = [bindparam(name, type_=ARRAY(types[name])) for name in per_row]
            rows = func.unnest(*arrays).table_valued(*per_row).render_derived(name="batch")

            def by_row(element):
                if isinstance(element, BindParameter) and element.key in per_row:
                    return rows.c[element.key]
                return None

            where = visitors.replacement_traverse(where, {}, by_row)
            also = visitors.replacement_traverse(also, {}, by_row) if also is not None else None
        built = []
        for books, befores in self.groups.items():
            columns: dict[str, Any] = {}
            for column, value in books:
                if value is NEXT_ATTEMPT:
                    columns[column] = MESSAGES.c.attempts + 1
                elif isinstance(value, _Slot):
                    columns[column] = bindparam(value.name, type_=MESSAGES.c[column].type)
                else:
                    columns[column] = value
            for column in self.values:
                if column in per_row:
                    columns[column] = rows.c[column]
                else:
                    columns[column] = bindparam(column, type_=MESSAGES.c[column].type)
            step = (
                update(MESSAGES)
                .where(where, MESSAGES.c.status.in_(befores))
                .values(columns)
                .returning(MESSAGES.c.id, MESSAGES.c.invitation_id)
            )
            event = {
                "occurred_at": bindparam("at", type_=EVENTS.c.occurred_at.type),
                "status": literal(str(self.to)[:16], EVENTS.c.status.type),
                "source": literal(self.source, EVENTS.c.source.type),
                "error_code": bindparam("error_code", type_=EVENTS.c.error_code.type),
                "reason": bindparam("reason", type_=EVENTS.c.reason.type),
            }
            if postgresql:
                # One statement: the step, its events and `also` are data-modifying CTEs; it
                # answers with the messages moved and their invitations.
                moved = step.cte("moved")
                recorded = insert(EVENTS).from_select(
                    ["message_id", *event], select(moved.c.id, *event.values())
                )
                query = select(moved.c.id, moved.c.invitation_id).add_cte(recorded.cte("recorded"))
                if also is not None:
                    query, also = query.add_cte(also.cte("also")), None
                built.append((query, None, True))
            else:
                event_row = insert(EVENTS).values(message_id=bindparam("message_id_moved"), **event)
                built.append((step, event_row, True))
        if also is not None:
            built.append((also, None, False))
        return built

    def run(
        self,
        db: Session,
        *,
        at: datetime,
        reason: str | None = None,
        error_code: int | None = None,
        **params: Any,
    ) -> list[int]:
        """Move the messages; returns the ids moved, which a caller that did not lock the rows
        must take as the truth. Messages loaded in `db` are not refreshed: commit (which
        expires them) before reading them again."""
        params.update(at=at, reason=reason, error_code=error_code)
        return self._run(db, (), params)

    def run_many(
        self,
        db: Session,
        rows: list[dict[str, Any]],
        *,
        at: datetime,
        reason: str | None = None,
        error_code: int | None = None,
        **params: Any,
    ) -> list[int]:
        """`run` for each of `rows` (the parameters that differ from row to row, each row
        with the same names), in one statement on PostgreSQL; the ids moved."""
        if not rows:
            return []
        if db.get_bind().dialect.name != "postgresql":
            return [
                moved
                for row in rows
                for moved in self.run(
                    db, at=at, reason=reason, error_code=error_code, **params, **row
                )
            ]
        per_row = tuple(rows[0])
        params.update({name: [row[name] for row in rows] for name in per_row})
        params.update(at=at, reason=reason, error_code=error_code)
        return self._run(db, per_row, params)

    def _run(self, db: Session, per_row: tuple[str, ...], params: dict[str, Any]) -> list[int]:
        dialect = db.get_bind().dialect.name
        if (dialect, per_row) not in self.statements:
            self.statements[dialect, per_row] = self._build(dialect == "postgresql", per_row)
        moved: dict[int, int | None] = {}
        for statement, event_row, moves in self.statements[dialect, per_row]:
            result = db.execute(statement, params)
            if not moves:  # `also`
                continue
            rows = dict(result.all())
            if rows and event_row is not None:  # SQLite: the events follow in a second statement
                event = {key: params[key] for key in ("at", "reason", "error_code")}
                db.execute(event_row, [{**event, "message_id_moved": i} for i in rows])
            moved.update(rows)
        if moved and self.moves_sent_at:
            refresh_invitation_facts(db, set(moved.values()) - {None})
        return list(moved)


def move(
    db: Session,
    to: MessageStatus,
    *,
    where: ColumnElement[bool],
    at: datetime,
    reason: str | None = None,
    source: str = "dispatcher",
    error_code: int | None = None,
    only_from: Iterable[MessageStatus] | None = None,
) -> list[int]:
    """A `Step` run once (the sweeps, which run once a pass): the ids moved."""
    step = Step(to, where=where, source=source, only_from=only_from)
    return step.run(db, at=at, reason=reason, error_code=error_code)


def note(
    message: Message,
    *,
    at: datetime,
    reason: str,
    source: str = "staff",
    status: str | None = None,
    error_code: int | None = None,
) -> None:
    """A step in a message's history that does not change its status (a coordinator's
    "send now", a report about another copy of it)."""
    _event(message, at, status or message.status, source, error_code=error_code, reason=reason)


def _event(message, at, status, source, *, error_code=None, reason=None) -> None:
    event = MessageEvent(
        message=message,
        occurred_at=at,
        status=str(status)[:16],
        source=source,
        error_code=error_code,
        reason=reason,
    )
    session = object_session(message)
    if session is not None:
        session.add(event)
