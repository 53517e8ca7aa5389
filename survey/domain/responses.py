"""Storing a patient's completed questionnaires with their scores."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from survey.domain.summaries import refresh_summary
from survey.domain.wording_in_use import keep_shown_wording, keep_shown_wordings
from survey.instruments import Instrument, fingerprint, scoring
from survey.instruments.answers import validate_answers
from survey.models import Answer, Invitation, Response, ResponseMode, utcnow


@dataclass(frozen=True)
class StoredResponse:
    """What a submit stored for one questionnaire (the row, without an ORM object)."""

    id: int
    instrument_id: str
    total: int
    band: str | None
    language: str
    mode: ResponseMode
    submitted_at: datetime


def store_response(
    db: Session,
    invitation: Invitation,
    instrument: Instrument,
    answers: dict[str, int],
    language: str,
    submitted_at: datetime | None = None,
    mode: ResponseMode = ResponseMode.WEB,
    entered_by_id: int | None = None,
) -> Response:
    """Score a complete set of answers and add it, with the wording shown, to the session.

    `mode` says how the answers were given; `entered_by_id` is the member of staff who typed
    them in from paper or a phone call (None when the patient answered themself).

    Raises AnswersError (nothing added) when the answers are incomplete or out of range."""
    values = validate_answers(instrument, answers)
    score = scoring.score_checked(instrument, values)
    response = Response(
        invitation=invitation,
        answers=[
            Answer(item_id=item.id, position=item.number, value=values[item.id])
            for item in instrument.items
        ],
        **_response_row(invitation, instrument, score, language, submitted_at, mode),
        entered_by_id=entered_by_id,
    )
    db.add(response)
    # The words themselves are kept by their hash: staff pages show answers with them.
    keep_shown_wording(db, instrument, language)
    # The list sorts by the patient's figures: they change with this response, in this
    # transaction, or not at all.
    refresh_summary(db, invitation.patient_id)
    return response


def insert_responses(
    db: Session,
    invitation: Invitation,
    checked: list[tuple[Instrument, dict[str, int]]],
    language: str,
    submitted_at: datetime,
    mode: ResponseMode = ResponseMode.WEB,
    entered_by_id: int | None = None,
) -> list[StoredResponse]:
    """`store_response` for every questionnaire of a submit at once, with Core inserts: one
    statement for the responses, one for all their answers, one for the wordings shown. The
    caller works the patient's summary out once, after them (`refresh_summary`, whose rows its
    triage reads too). `checked` pairs each instrument with what its `validate_answers`
    returned (answers are checked once, by the caller, and not again here)."""
    rows = []
    for instrument, values in checked:
        score = scoring.score_checked(instrument, values)
        rows.append(
            {
                "invitation_id": invitation.id,
                **_response_row(invitation, instrument, score, language, submitted_at, mode),
                "entered_by_id": entered_by_id,
            }
        )
    # The table, not the mapped class: one INSERT ... VALUES (...), (...) RETURNING id for
    # every response (the ORM would group rows by which columns are NULL).
    responses = Response.__table__
    ids = db.scalars(
        insert(responses).returning(responses.c.id, sort_by_parameter_order=True), rows
    ).all()
    db.execute(
        insert(Answer.__table__),
        [
            {
                "response_id": response_id,
                "item_id": item.id,
                "position": item.number,
                "value": values[item.id],
            }
            for response_id, (instrument, values) in zip(ids, checked, strict=True)
            for item in instrument.items
        ],
    )
    keep_shown_wordings(db, [instrument for instrument, _ in checked], language)
    return [
        StoredResponse(
            id=response_id,
            instrument_id=row["instrument_id"],
            total=row["total"],
            band=row["band"],
            language=language,
            mode=mode,
            submitted_at=submitted_at,
        )
        for response_id, row in zip(ids, rows, strict=True)
    ]


def _response_row(invitation, instrument, score, language, submitted_at, mode) -> dict:
    return {
        "patient_id": invitation.patient_id,
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "wording_version": instrument.wording_version(language),
        "wording_hash": fingerprint.wording_hash(instrument, language),
        "wording_status": instrument.wording_status(language),
        "language": language,
        "total": score.total,
        "band": score.band.id if score.band else None,
        "subscales": dict(score.subscales),
        "submitted_at": submitted_at or utcnow(),
        "mode": mode,
    }
