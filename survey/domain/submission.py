"""A patient answering an invitation: opening the link, saving answers as they go, submitting once.

Plain functions over a database session; each one that changes something commits, so that an
answer is on disk before the patient sees the next page. The final submit also triages the
timepoint (survey/domain/triage/), in the same transaction. Saving and submitting lock the
invitation row, so drafts can never be written into an invitation that is already complete and
two submits of one invitation run one after the other (PostgreSQL; SQLite serialises writes).
"""

import enum
import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, scoped_session

from survey.domain.invitation_dates import Stage, stage_of
from survey.domain.invitations import find_link
from survey.domain.responses import StoredResponse, insert_responses
from survey.domain.summaries import refresh_summary
from survey.domain.triage.assessing import settings_columns
from survey.domain.triage.submitted import NOT_READ, triage_submitted
from survey.domain.wording_in_use import (
    import_keys_rows,
    instruments_in_use,
    remember_import_keys,
    upsert_for,
)
from survey.instruments import AnswersError, Instrument
from survey.instruments.answers import validate_answers
from survey.models import (
    DraftAnswer,
    ImportedWording,
    Invitation,
    InvitationStatus,
    Patient,
    PatientSummary,
    Response,
    ResponseMode,
    Site,
    TriageSettings,
    utcnow,
)


class InvitationState(enum.StrEnum):
    """Whether an invitation can be answered now, and if not, why."""

    OPEN = "open"
    NOT_YET_OPEN = "not yet open"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


# The stages staff pages show (survey/domain/invitation_dates.py), as a patient with a link
# meets them.
PATIENT_STATE = {
    Stage.UPCOMING: InvitationState.NOT_YET_OPEN,
    Stage.OPEN: InvitationState.OPEN,
    Stage.CLOSED: InvitationState.EXPIRED,
    Stage.ANSWERED: InvitationState.COMPLETED,
    Stage.CANCELLED: InvitationState.CANCELLED,
}


class InvitationClosed(Exception):
    """The invitation cannot take answers any more (or not yet); `state` says why."""

    def __init__(self, state: InvitationState) -> None:
        super().__init__(state.value)
        self.state = state


class Incomplete(Exception):
    """Some questionnaire still has unanswered items: `step` is its 1-based page."""

    def __init__(self, step: int, instrument_id: str, missing: tuple[str, ...]) -> None:
        super().__init__(f"{instrument_id}: {len(missing)} unanswered")
        self.step = step
        self.instrument_id = instrument_id
        self.missing = missing


@dataclass(frozen=True)
class Submitted:
    """The stored responses of a completed invitation; `first_time` is False for a repeat."""

    responses: list[StoredResponse]
    first_time: bool


def state_of(invitation: Invitation, now: datetime | None = None) -> InvitationState:
    """What a patient holding a link to this invitation can do with it right now."""
    stage = stage_of(invitation.status, invitation.opens_at, invitation.expires_at, now or utcnow())
    return PATIENT_STATE[stage]


def open_link(db: Session, token: str, now: datetime | None = None) -> Invitation | None:
    """The invitation a token opens (None for a malformed or unknown one), noting its use."""
    now = now or utcnow()
    link = find_link(db, token)
    if link is None:
        return None
    link.last_used_at = now
    invitation = link.invitation
    if invitation.started_at is None and state_of(invitation, now) == InvitationState.OPEN:
        invitation.started_at = now
    db.commit()
    return invitation


def instruments_of(db: Session, invitation: Invitation) -> list[Instrument]:
    """The invitation's questionnaires, in the order the patient answers them."""
    return instruments_in_use(db, invitation.instrument_ids)


def load_invitation(db: Session, invitation_id: int) -> Invitation | None:
    """The invitation with its patient and site, for a patient's request; on PostgreSQL in
    the same statement its saved answers and the wording imports in use too (kept for this
    transaction, so the page costs one round trip). SQLite, in process, reads them when
    asked."""
    if db.get_bind().dialect.name != "postgresql":
        options = [joinedload(Invitation.patient).joinedload(Patient.site)]
        return db.get(Invitation, invitation_id, options=options)
    row = db.execute(_page_statement(), {"page_invitation_id": invitation_id}).one_or_none()
    if row is None:
        return None
    invitation, *arrays = row
    _remember_page_arrays(db, invitation.id, arrays)
    return invitation


@dataclass(frozen=True)
class PageSite:
    """What a patient page shows of the clinic."""

    name: str
    contact: str | None
    default_language: str
    patient_results: bool


@dataclass(frozen=True)
class PagePatient:
    language: str | None
    timezone: str
    site: PageSite


@dataclass(frozen=True)
class PageInvitation:
    """What a page that only shows an invitation reads of it, as plain values: building the
    ORM objects (with their identity map entries and joined-eager loaders) was about a tenth
    of the questionnaire page's CPU. Nothing can be written through it."""

    id: int
    status: str
    opens_at: datetime
    expires_at: datetime
    instrument_ids: list[str]
    language: str | None
    patient: PagePatient


def read_page_invitation(db: Session, invitation_id: int) -> PageInvitation | None:
    """load_invitation's read for a page that changes nothing, as plain rows: the same one
    statement on PostgreSQL (saved answers and wording imports kept likewise)."""
    postgresql = db.get_bind().dialect.name == "postgresql"
    statement = _plain_page_statement(with_arrays=postgresql)
    row = db.execute(statement, {"page_invitation_id": invitation_id}).one_or_none()
    if row is None:
        return None
    (id_, status, opens_at, expires_at, instrument_ids, language) = row[:6]
    (patient_language, timezone, *site) = row[6:12]
    if postgresql:
        _remember_page_arrays(db, id_, row[12:])
    patient = PagePatient(patient_language, timezone, PageSite(*site))
    return PageInvitation(id_, status, opens_at, expires_at, instrument_ids, language, patient)


def _remember_page_arrays(db: Session, invitation_id: int, arrays) -> None:
    """Keep what the page statement's arrays hold for this transaction."""
    instrument_ids, item_ids, values, wording_ids, import_ids, imported_ats = arrays
    import_rows = zip(wording_ids or (), import_ids or (), imported_ats or (), strict=True)
    remember_import_keys(db, import_rows)
    saved: dict[str, dict[str, int]] = {}
    for instrument_id, item_id, value in zip(
        instrument_ids or (), item_ids or (), values or (), strict=True
    ):
        saved.setdefault(instrument_id, {})[item_id] = value
    _remember_saved(db, invitation_id, saved)


@functools.cache
def _page_statement():
    """load_invitation's statement, built once per process (building it cost more CPU than
    running it)."""
    return (
        select(Invitation, *_page_arrays())
        .where(Invitation.id == bindparam("page_invitation_id"))
        .options(joinedload(Invitation.patient).joinedload(Patient.site))
    )


@functools.cache
def _plain_page_statement(with_arrays: bool):
    """read_page_invitation's statement: PageInvitation's columns, then (on PostgreSQL) the
    same arrays as load_invitation's."""
    return (
        select(
            Invitation.id,
            Invitation.status,
            Invitation.opens_at,
            Invitation.expires_at,
            Invitation.instrument_ids,
            Invitation.language,
            Patient.language,
            Patient.timezone,
            Site.name,
            Site.contact,
            Site.default_language,
            Site.patient_results,
            *(_page_arrays() if with_arrays else ()),
        )
        .join(Patient, Invitation.patient_id == Patient.id)
        .join(Site, Patient.site_id == Site.id)
        .where(Invitation.id == bindparam("page_invitation_id"))
    )


def _page_arrays():
    """The invitation's saved answers and the wording imports in use, as arrays."""
    drafts = select(DraftAnswer).where(DraftAnswer.invitation_id == Invitation.id)
    imports = import_keys_rows()
    return [
        *[_array_of(drafts, column) for column in _DRAFT_COLUMNS],
        *[_array_of(imports, column) for column in _IMPORT_COLUMNS],
    ]


_DRAFT_COLUMNS = (DraftAnswer.instrument_id, DraftAnswer.item_id, DraftAnswer.value)
_IMPORT_COLUMNS = (ImportedWording.instrument_id, ImportedWording.id, ImportedWording.imported_at)


def _array_of(query, column):
    """One column of `query`'s rows as a PostgreSQL array, in the order of its table's id."""
    table = column.table
    return (
        query.with_only_columns(array_agg(aggregate_order_by(column, *table.primary_key.columns)))
        .order_by(None)
        .scalar_subquery()
    )


# Where a transaction's saved answers are kept once read with the invitation; any write of
# drafts through this module forgets them.
_SAVED = "survey_saved_answers"


def _remember_saved(db: Session, invitation_id: int, saved: dict) -> None:
    plain = _plain(db)
    plain.info[_SAVED] = (plain.get_transaction(), invitation_id, saved)


def _forget_saved(db: Session) -> None:
    _plain(db).info.pop(_SAVED, None)


def _plain(db) -> Session:
    return db() if isinstance(db, scoped_session) else db


def saved_answers(db: Session, invitation: Invitation) -> dict[str, dict[str, int]]:
    """The draft answers saved so far: instrument id -> item id -> value."""
    kept = _plain(db).info.get(_SAVED)
    if (
        kept is not None
        and kept[0] is not None
        and kept[0] is _plain(db).get_transaction()
        and kept[1] == invitation.id
    ):
        return {instrument_id: dict(items) for instrument_id, items in kept[2].items()}
    saved: dict[str, dict[str, int]] = {}
    # Plain rows, not ORM objects: read on every page and submit, never changed here.
    rows = db.execute(
        select(DraftAnswer.instrument_id, DraftAnswer.item_id, DraftAnswer.value).where(
            DraftAnswer.invitation_id == invitation.id
        )
    )
    for instrument_id, item_id, value in rows:
        saved.setdefault(instrument_id, {})[item_id] = value
    return saved


def resume_step(instruments: list[Instrument], saved: dict[str, dict[str, int]]) -> int:
    """The page to continue on: the first questionnaire not fully answered, else the last."""
    for step, instrument in enumerate(instruments, start=1):
        answered = saved.get(instrument.id, {})
        if any(item.id not in answered for item in instrument.items):
            return step
    return len(instruments)


def set_language(db: Session, invitation: Invitation, language: str) -> None:
    """Remember the language the patient picked for this invitation."""
    if invitation.language != language:
        invitation.language = language
        db.commit()


def save_answers(
    db: Session,
    invitation_id: int,
    instrument_id: str,
    answers: dict[str, int],
    now: datetime | None = None,
) -> None:
    """Store (or overwrite) some answers to one questionnaire of an open invitation, and commit.

    The answers must already be checked against the instrument. Raises InvitationClosed, with
    nothing stored, once the invitation is completed, cancelled or expired."""
    now = now or utcnow()
    invitation = _locked(db, invitation_id)
    state = state_of(invitation, now)
    if state != InvitationState.OPEN:
        db.rollback()
        raise InvitationClosed(state)
    _store_drafts(db, invitation_id, instrument_id, answers, now)
    db.commit()


def submit(
    db: Session,
    invitation_id: int,
    language: str,
    now: datetime | None = None,
    last_page: tuple[str, dict[str, int]] | None = None,
    pages: dict[str, dict[str, int]] | None = None,
    mode: ResponseMode = ResponseMode.WEB,
    entered_by_id: int | None = None,
) -> Submitted:
    """Score and store every questionnaire of the invitation from its saved answers, in one
    transaction, and close the invitation.

    `last_page` (instrument id, checked answers) is the page sent with the submit: scored with
    the saved answers under the same lock, and saved (one commit) when another page turns
    out incomplete. Submitting a completed invitation again returns its stored
    responses (nothing saved). Raises Incomplete (no response stored) when an item is
    unanswered, and InvitationClosed (nothing saved) when the invitation was cancelled or has
    expired. `pages` (instrument id -> checked answers) are saved like `last_page`: every
    questionnaire at once, as staff enter answers given on paper or by phone. `mode` and
    `entered_by_id` are stored with every response (see `store_response`)."""
    now = now or utcnow()
    locked = _locked_with_summary(db, invitation_id)
    summary_locked = locked is not None
    if summary_locked:
        invitation, triage_settings = locked
    else:  # a patient without a summary row: none to lock (triage reads its settings)
        invitation, triage_settings = _locked(db, invitation_id), NOT_READ
    state = state_of(invitation, now)
    if state == InvitationState.COMPLETED:
        db.rollback()
        return Submitted(_responses(db, invitation_id), first_time=False)
    if state != InvitationState.OPEN:
        db.rollback()
        raise InvitationClosed(state)

    # The answers saved so far, read under the lock (not those read with the page before
    # it), with the pages sent now over them, as storing them first would leave them. They
    # are stored as drafts only when something is still unanswered: a complete submit
    # deletes its drafts, so writing them first was work thrown away.
    _forget_saved(db)
    saved = saved_answers(db, invitation)
    sent = [last_page] if last_page is not None else []
    sent += list((pages or {}).items())
    for instrument_id, answers in sent:
        saved.setdefault(instrument_id, {}).update(answers)
    instruments = instruments_of(db, invitation)
    # Each questionnaire is checked here, once: what the check returns is scored and stored.
    checked = []
    for step, instrument in enumerate(instruments, start=1):
        try:
            checked.append((instrument, validate_answers(instrument, saved.get(instrument.id, {}))))
        except AnswersError as error:
            for instrument_id, answers in sent:
                _store_drafts(db, invitation_id, instrument_id, answers, now)
            db.commit()  # the pages sent, if any; nothing else has changed
            raise Incomplete(step, instrument.id, error.missing) from None

    try:
        responses = insert_responses(
            db, invitation, checked, language, now, mode=mode, entered_by_id=entered_by_id
        )
        # The list sorts by the patient's figures: they change with these responses, in this
        # transaction. The responses read for them are the history triage judges below.
        history = refresh_summary(db, invitation.patient_id, locked=summary_locked)
        invitation.status = InvitationStatus.COMPLETED
        invitation.completed_at = now
        db.execute(_delete_drafts(), {"drafts_invitation_id": invitation_id})
        _forget_saved(db)
        # Triaged with the answers, in their transaction; a failure there is rolled back
        # alone and never costs the patient their answers.
        triage_submitted(db, invitation, now, history, triage_settings)
        db.commit()
    except IntegrityError:
        # Another request stored these responses first (only possible where the row lock is
        # not enforced): theirs stand, and this patient sees the same thank-you page.
        db.rollback()
        stored = _responses(db, invitation_id)
        if not stored:
            raise
        return Submitted(stored, first_time=False)
    return Submitted(responses, first_time=True)


def _store_drafts(
    db: Session, invitation_id: int, instrument_id: str, answers: dict[str, int], now: datetime
) -> None:
    if not answers:
        return
    _forget_saved(db)
    rows = [
        {
            "invitation_id": invitation_id,
            "instrument_id": instrument_id,
            "item_id": item_id,
            "value": value,
            "updated_at": now,
        }
        for item_id, value in answers.items()
    ]
    db.execute(_upsert_drafts(upsert_for(db)), rows)


@functools.cache
def _delete_drafts():
    """The drafts of a submitted invitation deleted, on the table (no ORM object holds them
    here, so there is nothing in the session to keep in step), built once."""
    return delete(DraftAnswer.__table__).where(
        DraftAnswer.invitation_id == bindparam("drafts_invitation_id")
    )


@functools.cache
def _upsert_drafts(upsert):
    """One statement per dialect, run with a list of rows (compiled once: a multi-row VALUES
    was worked out and compiled again on every page sent)."""
    insert = upsert(DraftAnswer.__table__)
    return insert.on_conflict_do_update(
        index_elements=["invitation_id", "instrument_id", "item_id"],
        set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
    )


def _locked(db: Session, invitation_id: int) -> Invitation:
    """The invitation, locked."""
    return db.scalars(_lock_statement(False), {"locked_invitation_id": invitation_id}).one()


def _locked_with_summary(db: Session, invitation_id: int):
    """The invitation, locked with its patient's summary row (a submit works the summary out
    again: one round trip instead of two), and its site's triage settings (None: the site
    has none), read in the same statement; None when the patient has no summary row."""
    row = db.execute(_lock_statement(True), {"locked_invitation_id": invitation_id}).first()
    if row is None:
        return None
    # The row's `rules` and `due_hours` are what `assessing.rules_from` takes.
    return row[0], (row if row.rules is not None else None)


@functools.cache
def _lock_statement(with_summary: bool):
    # populate_existing: the request may already hold this invitation, read before the lock.
    # Its patient comes along (triage reads the site), unlocked. Built once per process, as
    # every statement of a submit.
    statement = (
        select(Invitation)
        .where(Invitation.id == bindparam("locked_invitation_id"))
        .options(joinedload(Invitation.patient))
        .execution_options(populate_existing=True)
    )
    if not with_summary:
        return statement.with_for_update(of=Invitation)
    # Locked in the order every other path takes them: the invitation, then the summary.
    # The site's triage settings, unlocked, save triage a statement of its own.
    return (
        statement.add_columns(*settings_columns())
        .join(PatientSummary, PatientSummary.patient_id == Invitation.patient_id)
        .join(Patient, Patient.id == Invitation.patient_id)
        .outerjoin(TriageSettings, TriageSettings.site_id == Patient.site_id)
        .with_for_update(of=[Invitation, PatientSummary])
    )


def _responses(db: Session, invitation_id: int) -> list[StoredResponse]:
    rows = db.execute(
        select(
            Response.id,
            Response.instrument_id,
            Response.total,
            Response.band,
            Response.language,
            Response.mode,
            Response.submitted_at,
        )
        .where(Response.invitation_id == invitation_id)
        .order_by(Response.id)
    )
    return [StoredResponse(*row) for row in rows]
