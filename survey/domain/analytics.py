"""Completion analytics: how invitations fare, per site a member of staff may see.

Definitions (docs/administration.md):

- an invitation counts once its window has opened and unless it was cancelled;
- texted: at least one of its texts was handed to the SMS provider;
- opened: the patient opened its link while it was open (`started_at`);
- completed: answered; expired: its window closed unanswered; still open: neither yet;
- completion rate: completed / (completed + expired), the invitations whose outcome is known,
  so invitations still open do not pull a rate down;
- channel: "text" when a text was sent, else "no text" (a link given in clinic);
- mode: how the answers were given (web, tablet, paper, phone: the responses' `mode`); for an
  invitation not answered, "tablet" once a clinic tablet opened it with a coordinator's code,
  else "web" (its link). Paper and phone answers exist only once entered, so those groups
  have no expired invitations: what they show is how many completions came that way;
- month: the UTC month its window opened;
- time to complete: from the first text handed to the provider to the answers;
- reminders needed: reminders sent before the answers came.

The page reads counts kept as invitations change (survey/domain/completion_counts.py: a few
hundred rows per site, including the patients who missed two, and the durations' index for
the median), so its time does not grow with the number of a site's invitations.
`scanned_figures` works every figure out from the invitations themselves instead, in one
statement: the definition the kept counts are tested and measured against.

The per-invitation facts that come from its texts, responses and tablet codes (first text,
reminders before the answers, mode) are kept on the invitation as they happen
(`invitation_fact_values`, after every flush that changes them, after the dispatcher's steps
that send a text or take one back and after a tablet code is redeemed), and its counts as
the transaction commits.

A new breakdown is one more group in `completion_counts.groups` and one entry in DIMENSIONS
(and one more column in `facts`, for the scan).
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    event,
    exists,
    func,
    inspect,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, scoped_session

from survey.domain import completion_counts
from survey.domain.completion_counts import (
    ALL,
    DIMENSIONS,
    NO_TEXT,
    REMINDER_CAP,
    REMINDERS,
    TEXT,
    TIMED,
)
from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    Patient,
    Response,
    ResponseMode,
    TabletHandoff,
    utcnow,
)

# Breakdowns shown in a fixed order rather than by their key's spelling.
ORDER = {"mode": [mode.value for mode in ResponseMode]}
# The scan's rows other than the breakdowns: what each row is (its `figure` column).
MISSING_TWO = "missing two"


@dataclass(frozen=True)
class Tally:
    """The outcome counts of a group of invitations."""

    key: str
    invitations: int
    texted: int
    opened: int
    completed: int
    expired: int

    @property
    def still_open(self) -> int:
        return self.invitations - self.completed - self.expired

    @property
    def rate(self) -> float | None:
        """Completed among those whose outcome is known, 0 to 1; None when none is known."""
        known = self.completed + self.expired
        return self.completed / known if known else None


@dataclass(frozen=True)
class Figures:
    totals: Tally
    breakdowns: dict[str, list[Tally]]  # DIMENSIONS -> one tally per group
    median_hours_to_complete: float | None
    completions_timed: int  # how many completions the median is taken over
    reminders_needed: list[tuple[str, int]]  # ("0", n), ("1", n), ("2", n), ("3+", n)
    patients_missing_two: int  # patients with two or more expired timepoints


def _month(db: Session, column):
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def invitation_fact_values() -> dict[str, ColumnElement]:
    """The facts kept on each invitation (`first_text_at`, `reminders_before`,
    `answer_mode`), as worked out from its texts, responses and tablet codes; correlated to
    the invitation an UPDATE of `invitations` writes."""
    sent = Message.sent_at.is_not(None)
    answered_mode = (
        select(func.min(Response.mode))
        .where(Response.invitation_id == Invitation.id)
        .correlate(Invitation)
        .scalar_subquery()
    )
    on_tablet = (
        exists()
        .where(TabletHandoff.invitation_id == Invitation.id, TabletHandoff.used_at.is_not(None))
        .correlate(Invitation)
    )
    return {
        "first_text_at": (
            select(func.min(Message.sent_at))
            .where(Message.invitation_id == Invitation.id, sent)
            .correlate(Invitation)
            .scalar_subquery()
        ),
        "reminders_before": (
            select(func.count(Message.id))
            .where(
                Message.invitation_id == Invitation.id,
                Message.kind == MessageKind.REMINDER,
                sent,
                Message.sent_at < Invitation.completed_at,
            )
            .correlate(Invitation)
            .scalar_subquery()
        ),
        "answer_mode": func.coalesce(
            answered_mode,
            case((on_tablet, literal(ResponseMode.TABLET.value)), else_=ResponseMode.WEB.value),
        ),
    }


def refresh_invitation_facts(connection, invitation_ids: Iterable[int] | None = None) -> None:
    """Work out the kept facts of these invitations again, and their counts (all of them
    when None: benchmark data written in bulk), in the caller's transaction (a Session, whose
    commit recounts them, or a Connection, recounted now)."""
    if invitation_ids is None:
        connection.execute(update(Invitation.__table__).values(**invitation_fact_values()))
        completion_counts.rebuild(connection)
        return
    ids = sorted(set(invitation_ids))
    if not ids:
        return
    # Built once (`_facts_update`): every batch of texts the dispatcher sends runs it. It
    # answers with the invitations as the recount reads them (locked by the UPDATE).
    rows = connection.execute(_facts_update(), {"fact_ids": ids}).all()
    # Flask-SQLAlchemy's db.session (the dispatcher's and the CLI's) is a scoped_session: its
    # commit recounts too, so the count rows stay locked for the commit alone.
    if isinstance(connection, Session | scoped_session):
        completion_counts.recount_at_commit(connection, rows=rows)
    else:
        completion_counts.recount(connection, ids, {row.id: row for row in rows})


# What, when it changes, changes an invitation's kept facts.
_WATCHED = {
    Message: ("sent_at", "kind", "invitation_id"),
    Response: ("mode", "invitation_id"),
    TabletHandoff: ("used_at", "invitation_id"),
}


def _facts_changed(session: Session) -> set[int]:
    invitations: set[int] = set()
    for obj in (*session.new, *session.deleted):
        if type(obj) in _WATCHED:
            invitations.add(obj.invitation_id)
    for obj in session.dirty:
        if type(obj) in _WATCHED:
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _WATCHED[type(obj)]):
                invitations.add(obj.invitation_id)
                # A text or response moved to another invitation changes the one it left.
                invitations.update(state.attrs.invitation_id.history.deleted or ())
        elif isinstance(obj, Invitation) and inspect(obj).attrs.completed_at.history.has_changes():
            invitations.add(obj.id)
    invitations.discard(None)
    return invitations


# What, when it changes on the invitation, may change its counts (the facts aside).
_COUNTED = (
    "status",
    "opens_at",
    "expires_at",
    "started_at",
    "completed_at",
    "timepoint",
    "patient_id",
)


def _counts_changed(session: Session) -> set[int]:
    """The invitations whose counts a flush may have changed by making the invitation,
    changing what it counts by, or changing its patient's language or site; `recount`
    finds out whether it did."""
    invitations = {obj.id for obj in session.new if isinstance(obj, Invitation)}
    invitations.update(
        obj.id
        for obj in session.dirty
        if isinstance(obj, Invitation)
        and any(inspect(obj).attrs[name].history.has_changes() for name in _COUNTED)
    )
    patients = [
        obj.id
        for obj in session.dirty
        if isinstance(obj, Patient)
        and any(inspect(obj).attrs[name].history.has_changes() for name in ("language", "site_id"))
    ]
    if patients:
        theirs = select(Invitation.id).where(Invitation.patient_id.in_(patients))
        invitations.update(session.connection().execute(theirs).scalars())
        # A patient moved to another site counts there among those who missed two.
        completion_counts.recount_at_commit(session, patient_ids=patients)
    invitations.discard(None)
    return invitations


@functools.cache
def _facts_update():
    """The facts' UPDATE of some invitations, built once per process (building its
    subqueries again after every submit's flush cost more CPU than running it), returning
    what their recount needs (`completion_counts.returned_columns`): their recount need not
    read them again."""
    return (
        update(Invitation.__table__)
        .values(**invitation_fact_values())
        .where(Invitation.id.in_(bindparam("fact_ids", expanding=True)))
        .returning(*completion_counts.returned_columns())
    )


@event.listens_for(Session, "after_flush")
def _keep_invitation_facts(session: Session, _context) -> None:
    """After a flush that sent a text, stored a response, used a tablet code or completed an
    invitation: its kept facts; after any that changed an invitation: its counts, as the
    transaction commits."""
    facts_changed = _facts_changed(session)
    counts_changed = _counts_changed(session)
    rows = ()
    if facts_changed:
        rows = session.connection().execute(_facts_update(), {"fact_ids": sorted(facts_changed)})
        rows = rows.all()
    # This flush's changes are in the rows the facts' UPDATE returned: those are noted with
    # their rows, the others to read at commit.
    completion_counts.recount_at_commit(
        session, invitation_ids=counts_changed - facts_changed, rows=rows
    )


def facts(db: Session, site_ids: list[int], now: datetime):
    """One row per counted invitation of the sites, with what the figures group and count:
    one scan of the sites' invitations, their texts, answers and tablet codes already
    summed up on each (`invitation_fact_values`)."""
    texted = Invitation.first_text_at.is_not(None)
    completed = Invitation.status == InvitationStatus.COMPLETED
    expired = and_(Invitation.status == InvitationStatus.OPEN, Invitation.expires_at <= now)
    return (
        select(
            Invitation.id.label("invitation_id"),
            Invitation.patient_id.label("patient_id"),
            Invitation.timepoint.label("timepoint"),
            Patient.language.label("language"),
            case((texted, literal(TEXT)), else_=literal(NO_TEXT)).label("channel"),
            Invitation.answer_mode.label("mode"),
            _month(db, Invitation.opens_at).label("month"),
            case((texted, 1), else_=0).label("texted"),
            case((Invitation.started_at.is_not(None), 1), (completed, 1), else_=0).label("opened"),
            case((completed, 1), else_=0).label("completed"),
            case((expired, 1), else_=0).label("expired"),
            Invitation.first_text_at.label("first_sent"),
            Invitation.completed_at,
            Invitation.reminders_before.label("reminders_before"),
        )
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(
            Patient.site_id.in_(site_ids),
            Invitation.status != InvitationStatus.CANCELLED,
            Invitation.opens_at <= now,
        )
    )


def _tally_columns(f):
    return (
        func.count().label("invitations"),
        func.coalesce(func.sum(f.c.texted), 0).label("texted"),
        func.coalesce(func.sum(f.c.opened), 0).label("opened"),
        func.coalesce(func.sum(f.c.completed), 0).label("completed"),
        func.coalesce(func.sum(f.c.expired), 0).label("expired"),
    )


def _row(figure: str, key, counts, value=None):
    """One row of the figures query: (figure, key, five counts, value), the same columns in
    every part of the UNION ALL (keys as text, whatever the column they come from)."""
    return (
        literal(figure, String).label("figure"),
        cast(key if key is not None else null(), String).label("key"),
        *counts,
        cast(value if value is not None else null(), Float).label("value"),
    )


def _count_only(count):
    zero = literal(0)
    return (count.label("invitations"), zero, zero, zero, zero)


def figures_query(db: Session, site_ids: list[int], now: datetime):
    """Every figure of the page as rows of ONE statement (figure, key, five counts, value):
    the per-invitation facts are worked out once (a CTE, which PostgreSQL and SQLite
    materialise because it is used several times) and each figure is one aggregate over
    them, joined by UNION ALL. (One read with GROUPING SETS instead was slower on
    PostgreSQL at 100,000 patients: its per-patient groups sort 500,000 rows on disk;
    docs/performance.md, section 6.)"""
    f = facts(db, site_ids, now).cte("facts")
    parts = [select(*_row(ALL, None, _tally_columns(f)))]
    for dimension in DIMENSIONS:
        key = f.c[dimension]
        parts.append(select(*_row(dimension, key, _tally_columns(f))).group_by(key))
    parts.append(
        select(*_row(REMINDERS, f.c.reminders_before, _count_only(func.count())))
        .where(f.c.completed == 1)
        .group_by(f.c.reminders_before)
    )
    missing = (
        select(f.c.patient_id)
        .where(f.c.expired == 1)
        .group_by(f.c.patient_id)
        .having(func.count() >= 2)
        .subquery("missing")
    )
    parts.append(select(*_row(MISSING_TWO, None, _count_only(func.count()))).select_from(missing))
    parts.append(_median_part(db, f))
    figures = union_all(*parts).subquery("figures")
    return select(figures).order_by(figures.c.figure, figures.c.key)


def _median_part(db: Session, f):
    """PostgreSQL: one row, the median in seconds (`percentile_cont`). SQLite has no
    percentile: the one or two middle durations (in days) come back, picked by their rank,
    and the median is taken of them here."""
    timed = and_(f.c.completed == 1, f.c.first_sent.is_not(None), f.c.completed_at.is_not(None))
    if db.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", f.c.completed_at - f.c.first_sent)
        median = func.percentile_cont(0.5).within_group(seconds)
        return select(*_row(TIMED, None, _count_only(func.count()), median)).where(timed)
    days = func.julianday(f.c.completed_at) - func.julianday(f.c.first_sent)
    ranked = (
        select(
            days.label("days"),
            func.row_number().over(order_by=days).label("rank"),
            func.count().over().label("timed"),
        )
        .where(timed)
        .subquery("ranked")
    )
    middle = ranked.c.rank * 2
    return select(*_row(TIMED, None, _count_only(ranked.c.timed), ranked.c.days)).where(
        middle >= ranked.c.timed, middle <= ranked.c.timed + 2
    )


def completion_figures(db: Session, site_ids: list[int], now: datetime | None = None) -> Figures:
    """Every figure of the analytics page for these sites, from the kept counts."""
    now = now or utcnow()
    counts = completion_counts.read_counts(db, site_ids, now)
    groups: dict[str, list[Tally]] = {}
    for (figure, key), (invitations, texted, opened, completed, expired) in counts.items():
        groups.setdefault(figure, []).append(
            Tally(key, invitations, texted, opened, completed, expired)
        )
    totals = Tally(ALL, *counts.get((ALL, ""), (0, 0, 0, 0, 0)))
    reminders = {int(tally.key): tally.invitations for tally in groups.get(REMINDERS, [])}
    timed = sum(tally.invitations for tally in groups.get(TIMED, []))
    median = completion_counts.median_seconds(db, site_ids, now, timed)
    return _figures(
        totals,
        {dimension: groups.get(dimension, []) for dimension in DIMENSIONS},
        reminders,
        median / 3600 if median is not None else None,
        timed,
        completion_counts.patients_missing_two(
            db, site_ids, now, counts.get((completion_counts.MISSED_TWO, ""), [0])[0]
        ),
    )


def scanned_figures(db: Session, site_ids: list[int], now: datetime | None = None) -> Figures:
    """Every figure, worked out from the sites' invitations in one query (`figures_query`):
    what the kept counts must always equal."""
    now = now or utcnow()
    rows: dict[str, list] = {}
    for row in db.execute(figures_query(db, site_ids, now)):
        rows.setdefault(row.figure, []).append(row)
    median, timed = _median_hours(db, rows.get(TIMED, []))
    return _figures(
        _tally(rows[ALL][0], ALL),
        {dimension: [_tally(row) for row in rows.get(dimension, [])] for dimension in DIMENSIONS},
        {int(row.key): int(row.invitations) for row in rows.get(REMINDERS, [])},
        median,
        timed,
        int(rows[MISSING_TWO][0].invitations),
    )


def _figures(totals, breakdowns, reminders, median, timed, missing_two) -> Figures:
    """The figures in the page's order: each breakdown by its key (the ways of answering in
    their own order), reminders 0, 1, 2 and 3 or more."""
    for dimension, tallies in breakdowns.items():
        tallies.sort(key=lambda t: t.key)
        if dimension in ORDER:
            known = ORDER[dimension]
            tallies.sort(key=lambda t: known.index(t.key) if t.key in known else len(known))
    needed = [(str(n), reminders.get(n, 0)) for n in range(REMINDER_CAP)]
    needed.append(
        (f"{REMINDER_CAP}+", sum(count for n, count in reminders.items() if n >= REMINDER_CAP))
    )
    return Figures(
        totals=totals,
        breakdowns=breakdowns,
        median_hours_to_complete=median,
        completions_timed=timed,
        reminders_needed=needed,
        patients_missing_two=missing_two,
    )


def _tally(row, key: str | None = None) -> Tally:
    return Tally(
        key if key is not None else str(row.key),
        int(row.invitations),
        int(row.texted),
        int(row.opened),
        int(row.completed),
        int(row.expired),
    )


def _median_hours(db: Session, rows) -> tuple[float | None, int]:
    if not rows:  # SQLite, nothing timed
        return None, 0
    timed = int(rows[0].invitations)
    if db.get_bind().dialect.name == "postgresql":
        median = rows[0].value
        return (float(median) / 3600 if median is not None else None), timed
    return statistics.median(row.value for row in rows) * 24, timed
