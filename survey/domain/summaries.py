"""Keeping each patient's summary row (`PatientSummary`) equal to their stored responses.

Baseline is the response at the `baseline` timepoint, else the earliest; latest is the most
recently submitted; previous is the one submitted just before the latest; best is the best
total before the latest, in the direction the instrument declares (the rules of
`survey.instruments.change` as `clinic.results.patient_course` applies them; the tests check
they agree).
Only the responses of the patient's current (latest) episode of care count: a new episode
(a definitive repair after a seton) starts its own baseline, and the list shows its figures.
The figures are worked out again from the responses each time, never adjusted step by step,
so a summary is right whatever order answers arrive in. A submit reads the patient's
responses (one small SELECT) and works the figures out in Python
(`survey.domain.summary_figures`); the same rules in SQL (`figures`) refresh many patients
at once (`refresh_summaries`), and the tests check that both give the same row.

Where the follow-up stands (the list's next due and overdue, defined in
`survey.clinic.followup`) is kept on the summary too, so that sorting and filtering by it
read an index. Both are worked out again from the patient's invitations after every flush
that adds, changes or removes an invitation, changes the patient's status or adds the summary
(a session listener: whatever code does it, in the same transaction). Next due also depends
on the clock, through expiry alone: what is stored is the step of it that holds from
`next_due_from` until `next_closes_at`, and `refresh_stale_follow_up` moves the rows the clock
has left to their next step before the list reads them.
"""

import functools
from collections.abc import Iterable
from datetime import datetime
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    case,
    event,
    exists,
    func,
    inspect,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from survey.domain import completion_counts
from survey.domain.summary_figures import (
    BASELINE_TIMEPOINT,
    PREFIXES,
    PROVISIONAL,
    StoredTotal,
    summary_figures,
)
from survey.domain.triage.assessing import pad_answer_of
from survey.instruments import CCIS, QOLAF, get_instrument
from survey.models import (
    Answer,
    ContactRequest,
    Episode,
    Invitation,
    InvitationStatus,
    Patient,
    PatientStatus,
    PatientSummary,
    Response,
    utcnow,
)

OWNER = PatientSummary.patient_id


def _episode_id(owner, pick) -> ColumnElement:
    return (
        select(pick(Episode.id))
        .where(Episode.patient_id == owner)
        .correlate(owner.table)
        .scalar_subquery()
    )


def in_current_episode(owner=OWNER) -> ColumnElement:
    """Per patient, on a query joined to `Invitation`: whether the row belongs to their
    current (latest) episode of care. An invitation without an episode is read as the first
    episode's (survey/domain/episodes.py); a patient without episode rows has one, implicit."""
    first, current = _episode_id(owner, func.min), _episode_id(owner, func.max)
    return func.coalesce(Invitation.episode_id, first, 0) == func.coalesce(current, 0)


def _responses(column, instrument_id: str, owner):
    """The patient's responses to one instrument in their current episode."""
    return (
        select(column)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(
            Response.patient_id == owner,
            Response.instrument_id == instrument_id,
            in_current_episode(owner),
        )
        .correlate(owner.table)
    )


def latest(instrument_id: str, column=Response.total, owner=OWNER) -> ColumnElement:
    """Per patient (`owner` is their id column): `column` of the most recent response."""
    return (
        _responses(column, instrument_id, owner)
        .order_by(Response.submitted_at.desc(), Response.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def previous(instrument_id: str, column=Response.total, owner=OWNER) -> ColumnElement:
    """Per patient: `column` of the response submitted just before the latest one."""
    return (
        _responses(column, instrument_id, owner)
        .order_by(Response.submitted_at.desc(), Response.id.desc())
        .limit(1)
        .offset(1)
        .scalar_subquery()
    )


def best(instrument_id: str, owner=OWNER) -> ColumnElement:
    """Per patient: the best total before the latest response, in the declared direction."""
    pick = func.min if get_instrument(instrument_id).higher_is_worse else func.max
    return (
        _responses(pick(Response.total), instrument_id, owner)
        .where(Response.id != latest(instrument_id, Response.id, owner))
        .scalar_subquery()
    )


def baseline(instrument_id: str, column=Response.total, owner=OWNER) -> ColumnElement:
    """Per patient: `column` of the baseline response (at the `baseline` timepoint, else the
    earliest). COALESCE only looks for the earliest when there is no baseline timepoint."""
    at_baseline = (
        select(column)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(
            Invitation.patient_id == owner,
            Invitation.timepoint == BASELINE_TIMEPOINT,
            Response.instrument_id == instrument_id,
            in_current_episode(owner),
        )
        .order_by(Response.submitted_at, Response.id)
        .limit(1)
        .correlate(owner.table)
        .scalar_subquery()
    )
    earliest = (
        _responses(column, instrument_id, owner)
        .order_by(Response.submitted_at, Response.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(at_baseline, earliest)


def instrument_figures(instrument_id: str) -> dict[str, ColumnElement]:
    """One questionnaire's summary columns, as worked out from the patient's responses."""
    p = PREFIXES[instrument_id]
    single = latest(instrument_id, Response.id) == baseline(instrument_id, Response.id)
    return {
        f"{p}_latest": latest(instrument_id),
        f"{p}_baseline": baseline(instrument_id),
        f"{p}_previous": previous(instrument_id),
        f"{p}_best": best(instrument_id),
        # No change to show while the latest answers are the baseline ones: NULL sorts last.
        f"{p}_change": case(
            (single, null()), else_=latest(instrument_id) - baseline(instrument_id)
        ),
        f"{p}_change_previous": latest(instrument_id) - previous(instrument_id),
        f"{p}_single": single,
        f"{p}_provisional": latest(instrument_id, Response.wording_status) == PROVISIONAL,
        f"{p}_baseline_provisional": (
            baseline(instrument_id, Response.wording_status) == PROVISIONAL
        ),
        f"{p}_previous_provisional": (
            previous(instrument_id, Response.wording_status) == PROVISIONAL
        ),
    }


def figures() -> dict[str, ColumnElement]:
    """Every summary column, as worked out from the patient's responses."""
    return {
        **instrument_figures(QOLAF),
        **instrument_figures(CCIS),
        "last_response_at": (
            select(func.max(Response.submitted_at))
            .where(Response.patient_id == OWNER)
            .correlate(PatientSummary.__table__)
            .scalar_subquery()
        ),
    }


def _next_due_invitation(column, now: datetime, owner=OWNER) -> ColumnElement:
    """Per patient: `column` of the next-due invitation at `now`: the earliest (by opening,
    then id) that is still open and has not closed."""
    return (
        select(column)
        .where(
            Invitation.patient_id == owner,
            Invitation.status == InvitationStatus.OPEN,
            Invitation.expires_at > now,
        )
        .order_by(Invitation.opens_at, Invitation.id)
        .limit(1)
        .correlate(owner.table)
        .scalar_subquery()
    )


def follow_up_figures(now: datetime, owner=OWNER) -> dict[str, ColumnElement]:
    """The summary's follow-up columns, as worked out from the patient's invitations.

    The next-due invitation at `now` stays next due until it closes, and since every open
    invitation before it has closed by `now`, from the last of their closings: every moment
    in [`next_due_from`, `next_closes_at`) has the same next due (NULL ends: open-ended).
    Overdue needs no clock at all: the earliest open invitation not followed by a completed
    one makes the patient overdue once the grace period after its opening has passed; nor
    does the moment the patient will have missed two timepoints (`second_missed_at`), which
    the completion analytics compare with their `now`."""
    later = aliased(Invitation)
    followed = exists().where(
        later.patient_id == Invitation.patient_id,
        later.status == InvitationStatus.COMPLETED,
        later.opens_at > Invitation.opens_at,
    )
    withdrawn = (
        select(Patient.status).where(Patient.id == owner).correlate(owner.table).scalar_subquery()
        == PatientStatus.WITHDRAWN
    )
    # An open invitation has been missed (counted, and expired) from its closing, or its
    # opening should it close first: the analytics' patients who missed two timepoints.
    missed_from = case(
        (Invitation.expires_at >= Invitation.opens_at, Invitation.expires_at),
        else_=Invitation.opens_at,
    )
    return {
        "second_missed_at": (
            select(missed_from)
            .where(Invitation.patient_id == owner, Invitation.status == InvitationStatus.OPEN)
            .order_by(missed_from)
            .limit(1)
            .offset(1)
            .correlate(owner.table)
            .scalar_subquery()
        ),
        "next_due_at": _next_due_invitation(Invitation.opens_at, now, owner),
        "next_closes_at": _next_due_invitation(Invitation.expires_at, now, owner),
        "next_due_from": (
            select(func.max(Invitation.expires_at))
            .where(
                Invitation.patient_id == owner,
                Invitation.status == InvitationStatus.OPEN,
                Invitation.expires_at <= now,
            )
            .correlate(owner.table)
            .scalar_subquery()
        ),
        "overdue_since": case(
            (withdrawn, null()),
            else_=select(func.min(Invitation.opens_at))
            .where(
                Invitation.patient_id == owner,
                Invitation.status == InvitationStatus.OPEN,
                ~followed,
            )
            .correlate(owner.table)
            .scalar_subquery(),
        ),
    }


def stale_follow_up(now: datetime) -> ColumnElement[bool]:
    """Summaries whose stored step of next due does not hold at `now`."""
    return or_(
        PatientSummary.next_closes_at <= now,
        PatientSummary.next_due_from > now,
    )


def any_stale_follow_up(now) -> ColumnElement[bool]:
    """Whether any summary's stored step of next due does not hold at `now` (a value or a
    bind parameter): two index range scans that stop at their first row, so that a page can
    ask in its own statement whether `refresh_stale_follow_up` is needed at all."""
    return or_(
        exists().where(PatientSummary.next_closes_at <= now),
        exists().where(PatientSummary.next_due_from > now),
    )


# Both statements are built once, with the time and the patients as parameters: building
# the follow-up's subqueries took longer than running the statement when nothing is stale,
# and one statement object keeps SQLAlchemy's compiled form cached.
_NOW = bindparam("now", type_=PatientSummary.next_due_at.type)


@cache
def _stale_update():
    return (
        update(PatientSummary.__table__)
        .where(stale_follow_up(_NOW))
        .values(**follow_up_figures(_NOW))
    )


@cache
def _patients_update():
    return (
        update(PatientSummary.__table__)
        .where(PatientSummary.patient_id.in_(bindparam("ids", expanding=True)))
        .values(**follow_up_figures(_NOW))
    )


def refresh_stale_follow_up(db: Session, now: datetime) -> None:
    """Move the summaries the clock has left to the step of next due that holds at `now`
    (an index range scan that usually finds nothing: run before the list reads them)."""
    db.flush()
    db.connection().execute(_stale_update(), {"now": now})


def refresh_follow_up(connection, patient_ids: Iterable[int], now: datetime | None = None) -> None:
    """Work out the follow-up columns of these patients again (a Session or a Connection)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    connection.execute(_patients_update(), {"now": now or utcnow(), "ids": ids})


# What, when it changes, moves a patient's next due or overdue.
_INVITATION_FIELDS = ("status", "opens_at", "expires_at", "patient_id")


def _follow_up_changed(session: Session) -> set[int]:
    patients: set[int] = set()
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, Invitation | PatientSummary):
            patients.add(obj.patient_id)
    for obj in session.dirty:
        if isinstance(obj, Invitation):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _INVITATION_FIELDS):
                patients.add(obj.patient_id)
        elif isinstance(obj, Patient) and inspect(obj).attrs.status.history.has_changes():
            patients.add(obj.id)
    patients.discard(None)
    return patients


@event.listens_for(Session, "after_flush")
def _keep_follow_up(session: Session, _context) -> None:
    """After a flush that changed what next due or overdue depend on, in its transaction."""
    patients = _follow_up_changed(session)
    if patients:
        refresh_follow_up(session.connection(), patients)
        # Their second missed timepoint may have moved: the analytics count it per day.
        completion_counts.recount_at_commit(session, patient_ids=patients)


@functools.cache
def _lock_statement():
    return (
        select(PatientSummary.patient_id)
        .where(PatientSummary.patient_id == bindparam("summary_patient_id"))
        .with_for_update()
    )


def _first_or_latest_episode(pick) -> ColumnElement:
    return (
        select(pick(Episode.id))
        .where(Episode.patient_id == bindparam("summary_patient_id"))
        .scalar_subquery()
    )


@functools.cache
def _responses_statement():
    """Every response of one patient, oldest first, with what the summary and the submit's
    triage read of it, and the ids of the patient's first and latest episodes of care (on
    every row: a patient without responses needs neither). Built once per process."""
    pad = aliased(Answer)
    asked = exists().where(ContactRequest.invitation_id == Response.invitation_id)
    return (
        select(
            Response.id,
            Response.instrument_id,
            Response.total,
            Response.submitted_at,
            Response.wording_status,
            Invitation.timepoint,
            Invitation.episode_id,
            Response.invitation_id,
            pad.value.label("pad"),
            asked.label("contact_requested"),
            _first_or_latest_episode(func.min).label("first_episode_id"),
            _first_or_latest_episode(func.max).label("current_episode_id"),
        )
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(pad, pad_answer_of(pad))
        .where(Response.patient_id == bindparam("summary_patient_id"))
        .order_by(Response.submitted_at, Response.id)
    )


@functools.cache
def _write_statement():
    """The summary's figures written as plain values: the SET clause comes from the
    parameters' names (`summary_figures.COLUMNS`)."""
    return update(PatientSummary.__table__).where(
        PatientSummary.patient_id == bindparam("summary_patient_id")
    )


def refresh_summary(db: Session, patient_id: int, locked: bool = False) -> list[Row]:
    """Work out one patient's summary again, in the caller's transaction (after a response
    is added). The row is locked first (`locked`: the caller locked it already, in an
    earlier statement of this transaction), so two answers stored at once for one patient
    are counted one after the other, each reading the other's committed response; then the
    patient's responses are read (`_responses_statement`, a statement of its own after the
    lock: under READ COMMITTED it sees what the lock waited for), their figures worked out
    in Python and written. Returns the rows read, oldest first, for the caller's other uses
    (a submit's triage reads the same history)."""
    db.flush()
    key = {"summary_patient_id": patient_id}
    if not locked:
        db.execute(_lock_statement(), key)
    rows = db.execute(_responses_statement(), key).all()
    episodes = (rows[0].first_episode_id, rows[0].current_episode_id) if rows else (None, None)
    totals = [StoredTotal(*row[:7]) for row in rows]
    db.execute(_write_statement(), key | summary_figures(totals, *episodes))
    return rows


def refresh_summaries(db: Session, first_id: int, last_id: int) -> None:
    """Work out the summaries of a range of patients again (bulk-written benchmark data),
    their follow-up included."""
    db.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id.between(first_id, last_id))
        .values(**figures(), **follow_up_figures(utcnow()))
        .execution_options(synchronize_session=False)
    )
