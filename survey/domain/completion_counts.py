"""The counts the completion analytics read (`CompletionCount`, `AnswerDuration`), kept as
invitations change, so that a page view reads a few hundred rows per site however long its
history, instead of every invitation.

What each invitation adds is worked out here, in Python, from its own row (`counted`), and
stored on it (`Invitation.counted_as`): `recount` compares that with what it adds now and
moves the difference, so it may run any number of times, from any code path, for any
invitations. A session notes the invitations a transaction changes (`recount_at_commit`: the
listener in survey/domain/analytics.py after every flush, the dispatcher's steps after every
text they send or take back, a redeemed tablet code) and recounts them as it commits, from
the rows the facts' UPDATE returned when nothing changed them since (`returned_columns`),
else read again. The
patients who missed two timepoints are counted the same way, by day, from their summaries
(`recount_patients`).

The clock enters the figures twice: an invitation counts once its window has opened, and
expires when it closes unanswered. The counts are kept per UTC day of opening and closing:
for every day before today both are known from the day alone, and the invitations that open
or close today are read one by one (`invitations_of_today`), so the figures are exact at any
moment."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    JSON,
    Integer,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from survey.models import (
    AnswerDuration,
    CompletionCount,
    Invitation,
    InvitationStatus,
    Patient,
    PatientSummary,
)

DIMENSIONS = ("timepoint", "language", "channel", "mode", "month")
ALL, REMINDERS, TIMED = "all", "reminders", "timed"
# Patients, not invitations: counted on the day they will have missed two timepoints.
MISSED_TWO = "missed two"
TEXT, NO_TEXT = "text", "no text"
REMINDER_CAP = 3  # "3 or more"
COUNTS = ("invitations", "texted", "opened", "completed")
BATCH = 2_000

# What `counted` reads of an invitation (and its patient).
COLUMNS = (
    Invitation.id,
    Patient.site_id,
    Patient.language,
    Invitation.timepoint,
    Invitation.status,
    Invitation.opens_at,
    Invitation.expires_at,
    Invitation.started_at,
    Invitation.completed_at,
    Invitation.first_text_at,
    Invitation.reminders_before,
    Invitation.answer_mode,
)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def counted(row) -> list | None:
    """What an invitation adds to the counts, as stored on it (JSON): [site, day it opens,
    day it closes, timepoint, language, texted, way of answering, opened, completed,
    reminders before the answers (completed only, capped), seconds from the first text to the
    answers (timed completions only)]; None for a cancelled one, which counts nowhere."""
    if row.status == InvitationStatus.CANCELLED:
        return None
    completed = row.status == InvitationStatus.COMPLETED
    texted = row.first_text_at is not None
    timed = completed and texted and row.completed_at is not None
    return [
        row.site_id,
        _day(row.opens_at),
        _day(row.expires_at),
        row.timepoint,
        row.language or "",
        int(texted),
        row.answer_mode,
        int(completed or row.started_at is not None),
        int(completed),
        min(row.reminders_before or 0, REMINDER_CAP) if completed else None,
        (row.completed_at - row.first_text_at).total_seconds() if timed else None,
    ]


def groups(kept: list) -> list[tuple[str, str]]:
    """The (figure, key) groups an invitation counted as `kept` falls in."""
    _site, opens_on, _closes_on, timepoint, language, texted, mode = kept[:7]
    completed, reminders, seconds = kept[8], kept[9], kept[10]
    found = [
        (ALL, ""),
        ("timepoint", timepoint),
        ("language", language),
        ("channel", TEXT if texted else NO_TEXT),
        ("mode", mode),
        ("month", opens_on[:7]),
    ]
    if completed:
        found.append((REMINDERS, str(reminders)))
    if seconds is not None:
        found.append((TIMED, ""))
    return found


def _add(changes: dict, kept: list, sign: int) -> None:
    site, opens_on, closes_on = kept[0], kept[1], kept[2]
    counts = (1, kept[5], kept[7], kept[8])
    for figure, key in groups(kept):
        change = changes[(site, figure, key, opens_on, closes_on)]
        for i, count in enumerate(counts):
            change[i] += sign * count


def _dialect_name(connection) -> str:
    bind = connection if hasattr(connection, "dialect") else connection.get_bind()
    return bind.dialect.name


# Every statement a recount runs is built once per process, with its ids as a parameter:
# building them again at every commit of a submit cost more CPU than running them.


def returned_columns() -> tuple:
    """What `recount` reads of an invitation, as an UPDATE of `invitations` can return it
    (its patient's columns as correlated subqueries): the statement that refreshes an
    invitation's facts answers with its row as it now is, and `recount` need not read it
    again."""
    patient = Patient.id == Invitation.patient_id
    return (
        *(column for column in COLUMNS if column.class_ is Invitation),
        select(Patient.site_id).where(patient).scalar_subquery().label("site_id"),
        select(Patient.language).where(patient).scalar_subquery().label("language"),
        Invitation.counted_as,
    )


@functools.cache
def _invitation_rows_statement():
    """The invitations as they are now, locked (PostgreSQL) until the transaction ends: two
    transactions recounting one invitation take turns, the second reading what the first
    stored, so neither moves a difference the other already moved."""
    return (
        select(*COLUMNS, Invitation.counted_as)
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(Invitation.id.in_(bindparam("recount_ids", expanding=True)))
        .order_by(Invitation.id)
        .with_for_update(of=Invitation)
    )


@functools.cache
def _counted_as_update():
    return (
        update(Invitation.__table__)
        .where(Invitation.id == bindparam("moved_id"))
        .values(counted_as=bindparam("counted_as", Invitation.counted_as.type))
    )


@functools.cache
def _durations_delete():
    return delete(AnswerDuration).where(
        AnswerDuration.invitation_id.in_(bindparam("recount_ids", expanding=True))
    )


def recount(connection, invitation_ids: Iterable[int], known: dict | None = None) -> None:
    """Bring the counts of these invitations up to date, in the caller's transaction (a
    Session or a Connection): each one's difference from what it added before moves.
    `known`: rows of some of them (`returned_columns`) as a statement of this transaction
    that locked them returned them, and nothing changed them since: they are not read
    again."""
    ids = sorted(set(invitation_ids))
    known = known or {}
    for first in range(0, len(ids), BATCH):
        chunk = ids[first : first + BATCH]
        rows = [known[i] for i in chunk if i in known]
        unknown = [i for i in chunk if i not in known]
        if unknown:
            rows += connection.execute(_invitation_rows_statement(), {"recount_ids": unknown})
            rows.sort(key=lambda row: row.id)
        changes: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        moved, timed, durations = [], [], []
        for row in rows:
            now_counted = counted(row)
            if now_counted == row.counted_as:
                continue
            if row.counted_as is not None:
                _add(changes, row.counted_as, -1)
            if now_counted is not None:
                _add(changes, now_counted, +1)
            moved.append({"moved_id": row.id, "counted_as": now_counted})
            # An invitation has a duration row while what it adds has a duration.
            if any(
                kept is not None and kept[10] is not None for kept in (row.counted_as, now_counted)
            ):
                timed.append(row.id)
            if now_counted is not None and now_counted[10] is not None:
                durations.append(_duration(row, now_counted))
        if moved:
            _keep_durations(connection, timed, durations)
            _move(connection, changes, moved)


def _duration(row, kept: list) -> dict:
    return {
        "invitation_id": row.id,
        "site_id": kept[0],
        "seconds": kept[10],
        "opens_at": row.opens_at,
    }


def _keep_durations(connection, invitation_ids: list[int], durations: list[dict]) -> None:
    """The duration rows of these invitations replaced by `durations` (none to replace when
    none of them had or has a duration: the texts a dispatcher sends)."""
    if invitation_ids:
        connection.execute(_durations_delete(), {"recount_ids": invitation_ids})
    if durations:
        connection.execute(AnswerDuration.__table__.insert(), durations)


GROUP = ("site_id", "figure", "key", "opens_on", "closes_on")


def _count_rows(changes: dict) -> list[dict]:
    """The changes to the counts, group by group in a fixed order (two transactions
    changing the same groups lock them in the same order, so they wait rather than
    deadlock); days as ISO dates."""
    return [
        dict(zip(GROUP, group, strict=True)) | dict(zip(COUNTS, change, strict=True))
        for group, change in sorted(changes.items())
        if any(change)
    ]


def _move(connection, changes: dict, moved: list[dict]) -> None:
    """Add the changes to the counts and store what the moved invitations now count as: on
    PostgreSQL one statement (`_counts_and_counted_as`), elsewhere two."""
    if _dialect_name(connection) == "postgresql":
        connection.execute(
            _counts_and_counted_as(),
            {
                "count_rows": _count_rows(changes),
                "moved": moved,
                "moved_ids": [row["moved_id"] for row in moved],
            },
        )
        return
    _apply(connection, changes)
    connection.execute(_counted_as_update(), moved)


@functools.cache
def _counts_and_counted_as():
    """PostgreSQL: the counts' upsert of `_upsert_counts` with the invitations' `counted_as`
    written by a data-modifying CTE of the same statement, both read from JSON parameters
    (`_count_rows`, the moved invitations). The groups are inserted in the order of
    `_count_rows` (Python's sort: text compared by code point, so "C" collation), the
    lock order every recount keeps; the invitations are already locked by this transaction
    (the recount's read or the facts' UPDATE), so the CTE waits for nothing."""
    table = CompletionCount.__table__
    moved = (
        func.json_to_recordset(cast(bindparam("moved", type_=JSON), JSON))
        .table_valued(column("moved_id", Integer), column("counted_as", JSON))
        .render_derived(name="moved", with_types=True)
    )
    invitations = Invitation.__table__
    counted_as = (
        update(invitations)
        # The ids again as an array: the join alone, estimated at json_to_recordset's 100
        # rows, was planned as a hash join over every invitation (a sequential scan).
        .where(
            invitations.c.id == any_(bindparam("moved_ids", type_=ARRAY(Integer))),
            invitations.c.id == moved.c.moved_id,
        )
        .values(counted_as=moved.c.counted_as)
        .returning(invitations.c.id)
        .cte("counted_as")
    )
    changes = (
        func.json_to_recordset(cast(bindparam("count_rows", type_=JSON), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in (*GROUP, *COUNTS)))
        .render_derived(name="changes", with_types=True)
    )
    c = changes.c
    in_order = select(*(c[name] for name in (*GROUP, *COUNTS))).order_by(
        c.site_id, c.figure.collate("C"), c.key.collate("C"), c.opens_on, c.closes_on
    )
    statement = postgresql_insert(table).from_select([*GROUP, *COUNTS], in_order)
    return statement.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTS},
    ).add_cte(counted_as)


def _apply(connection, changes: dict) -> None:
    """Add the changes to the counts (`_count_rows`); a group seen for the first time is
    inserted."""
    rows = _count_rows(changes)
    if not rows:
        return
    for row in rows:
        row["opens_on"] = date.fromisoformat(row["opens_on"])
        row["closes_on"] = date.fromisoformat(row["closes_on"])
    connection.execute(_upsert_counts(_dialect_name(connection)), rows)


@functools.cache
def _upsert_counts(dialect: str):
    """Add to the counts, a group seen for the first time inserted: one statement per
    dialect."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = CompletionCount.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTS},
    )


def rebuild(connection) -> None:
    """Every invitation's and patient's counts from nothing (a migration's backfill,
    benchmark data written in bulk), in batches by id."""
    connection.execute(delete(CompletionCount))
    connection.execute(delete(AnswerDuration))
    connection.execute(update(Invitation.__table__).values(counted_as=None))
    connection.execute(update(PatientSummary.__table__).values(missed_two_counted=None))
    patients = connection.execute(select(PatientSummary.patient_id)).scalars().all()
    recount_patients(connection, patients)
    last = 0
    while True:
        ids = (
            connection.execute(
                select(Invitation.id)
                .where(Invitation.id > last)
                .order_by(Invitation.id)
                .limit(BATCH * 10)
            )
            .scalars()
            .all()
        )
        if not ids:
            return
        recount(connection, ids)
        last = ids[-1]


def recount_patients(connection, patient_ids: Iterable[int]) -> None:
    """Bring the count of these patients who missed two timepoints up to date: each counts
    once, on the UTC day of their summary's `second_missed_at` (stored on the summary as
    [site, day], `missed_two_counted`, what a change takes back), in the caller's
    transaction, the summaries locked as the invitations are in `recount`."""
    ids = sorted(set(patient_ids))
    s = PatientSummary
    for first in range(0, len(ids), BATCH):
        rows = connection.execute(
            _summary_rows_statement(), {"recount_ids": ids[first : first + BATCH]}
        ).all()
        changes: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        moved = []
        for row in rows:
            missed = row.second_missed_at
            now_counted = [row.site_id, _day(missed)] if missed is not None else None
            if now_counted == row.missed_two_counted:
                continue
            for kept, sign in ((row.missed_two_counted, -1), (now_counted, +1)):
                if kept is not None:
                    changes[(kept[0], MISSED_TWO, "", kept[1], kept[1])][0] += sign
            moved.append({"moved_id": row.patient_id, "missed_two_counted": now_counted})
        if moved:
            _apply(connection, changes)
            connection.execute(
                update(s.__table__)
                .where(s.patient_id == bindparam("moved_id"))
                .values(
                    missed_two_counted=bindparam("missed_two_counted", s.missed_two_counted.type)
                ),
                moved,
            )


@functools.cache
def _summary_rows_statement():
    s = PatientSummary
    return (
        select(s.patient_id, Patient.site_id, s.second_missed_at, s.missed_two_counted)
        .join(Patient, Patient.id == s.patient_id)
        .where(s.patient_id.in_(bindparam("recount_ids", expanding=True)))
        .order_by(s.patient_id)
        .with_for_update(of=PatientSummary)
    )


# What a session's transaction has changed, to recount as it commits: invitations, patients,
# and the rows of some invitations as returned since their last change (id -> row).
_TO_RECOUNT = "completion_counts.to_recount"


def recount_at_commit(session: Session, invitation_ids=(), patient_ids=(), rows=()) -> None:
    """Note invitations (and patients, for the two missed timepoints) whose counts this
    transaction may have changed: `recount` runs as it commits.

    `rows`: invitations as a statement that locked them just returned them (with
    `returned_columns`), noted with the row the recount then uses instead of reading them
    again (the facts' UPDATE: one statement fewer a commit). Noting an invitation without its
    row says it may have changed since: its row is forgotten and read at commit. So whatever
    changes what an invitation counts by must note it after the change (a flush does: the
    listener in survey/domain/analytics.py; a Core statement must)."""
    invitations, patients, known = session.info.setdefault(_TO_RECOUNT, (set(), set(), {}))
    invitations.update(invitation_ids)
    patients.update(patient_ids)
    for invitation_id in invitation_ids:
        known.pop(invitation_id, None)
    for row in rows:
        invitations.add(row.id)
        known[row.id] = row


@event.listens_for(Session, "before_commit")
def _recount_as_committing(session: Session) -> None:
    """The counts of what this transaction changed, as its last statements: the counts of
    one site and day are rows every transaction answering such an invitation updates,
    locked until its commit, so moving them last keeps those waits to a commit (not, say, a
    submit's triage and summary). Recounting reads each invitation as it is now, so no
    change is missed however many flushes came before. A savepoint's release commits
    nothing yet: its changes are recounted with the transaction's (inside a submit's triage
    savepoint, a failing recount would have passed for a failing triage)."""
    if session.in_nested_transaction():
        return
    session.flush()
    noted = session.info.pop(_TO_RECOUNT, None)
    if noted is not None:
        invitations, patients, known = noted
        recount(session.connection(), invitations, known)
        recount_patients(session.connection(), patients)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    """Nothing to recount once the transaction is rolled back. A savepoint rolled back (a
    submit's failed triage) leaves its transaction going, with what it noted before: the
    submit's completed invitation is still counted as it commits; the rows returned inside
    the savepoint are rolled back with it, so none is used: all are read at commit."""
    if previous_transaction.parent is None:
        session.info.pop(_TO_RECOUNT, None)
    elif _TO_RECOUNT in session.info:
        session.info[_TO_RECOUNT][2].clear()


def _today(now: datetime) -> tuple[date, datetime, datetime]:
    today = now.astimezone(UTC).date()
    start = datetime.combine(today, time(), UTC)
    return today, start, start + timedelta(days=1)


def read_counts(db, site_ids: list[int], now: datetime) -> dict[tuple[str, str], list[int]]:
    """The sites' counts at `now`, per (figure, key): [invitations, texted, opened,
    completed, expired]. The kept counts of every day but today's (an invitation whose
    window closed before today and is not completed has expired), and the invitations that
    opened today or close today, one by one."""
    today, start, tomorrow = _today(now)
    c = CompletionCount
    expired = case((c.closes_on < today, c.invitations - c.completed), else_=0)
    sums = [func.sum(c.invitations), func.sum(c.texted), func.sum(c.opened)]
    sums += [func.sum(c.completed), func.sum(expired)]
    kept = db.execute(
        select(c.figure, c.key, *sums)
        .where(c.site_id.in_(site_ids), c.opens_on < today, c.closes_on != today)
        .group_by(c.figure, c.key)
    )
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for figure, key, *counts in kept:
        found[(figure, key)] = [int(count or 0) for count in counts]
    for row in invitations_of_today(db, site_ids, now, start, tomorrow):
        now_counted = counted(row)
        expired_now = row.status == InvitationStatus.OPEN and row.expires_at <= now
        adds = (1, now_counted[5], now_counted[7], now_counted[8], int(expired_now))
        for group in groups(now_counted):
            total = found[group]
            for i, count in enumerate(adds):
                total[i] += count
    # A group all of whose invitations moved elsewhere keeps its rows, at zero.
    return {group: counts for group, counts in found.items() if counts[0]}


def invitations_of_today(db, site_ids: list[int], now: datetime, start, tomorrow):
    """The sites' counted invitations whose day of opening or closing is today's: opened
    since midnight (UTC), or opened before and closing today."""
    return db.execute(
        select(*COLUMNS)
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(
            Patient.site_id.in_(site_ids),
            Invitation.status != InvitationStatus.CANCELLED,
            or_(
                and_(Invitation.opens_at >= start, Invitation.opens_at <= now),
                and_(
                    Invitation.opens_at < start,
                    Invitation.expires_at >= start,
                    Invitation.expires_at < tomorrow,
                ),
            ),
        )
    ).all()


def median_seconds(db, site_ids: list[int], now: datetime, timed: int) -> float | None:
    """The median of the `timed` completions' durations (seconds): the middle one or two,
    read in order from the index."""
    if not timed:
        return None
    d = AnswerDuration
    middle = db.scalars(
        select(d.seconds)
        .where(d.site_id.in_(site_ids), d.opens_at <= now)
        .order_by(d.seconds)
        .offset((timed - 1) // 2)
        .limit(2 - timed % 2)
    ).all()
    return sum(middle) / len(middle)


def patients_missing_two(db, site_ids: list[int], now: datetime, before_today: int) -> int:
    """The sites' patients with two or more expired invitations at `now`: those counted on
    a day before today (`before_today`, from `read_counts`), and today's one by one."""
    _today_, start, _tomorrow = _today(now)
    missed = PatientSummary.second_missed_at
    return before_today + db.scalar(
        select(func.count())
        .select_from(PatientSummary)
        .join(Patient, Patient.id == PatientSummary.patient_id)
        .where(Patient.site_id.in_(site_ids), missed >= start, missed <= now)
    )
