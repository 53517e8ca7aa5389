"""Storing a patient's completed questionnaire with its scores."""

from datetime import datetime

from sqlalchemy.orm import Session

from survey.domain.summaries import refresh_summary
from survey.domain.wording_in_use import keep_shown_wording
from survey.instruments import Instrument
from survey.models import Answer, Invitation, Response, ResponseMode, utcnow


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
    score = instrument.score(answers)
    values = instrument.validate(answers)
    response = Response(
        invitation=invitation,
        patient_id=invitation.patient_id,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        wording_version=instrument.wording_version(language),
        wording_hash=instrument.wording_hash(language),
        wording_status=instrument.wording_status(language),
        language=language,
        total=score.total,
        band=score.band.id if score.band else None,
        subscales=dict(score.subscales),
        submitted_at=submitted_at or utcnow(),
        mode=mode,
        entered_by_id=entered_by_id,
        answers=[
            Answer(item_id=item.id, position=item.number, value=values[item.id])
            for item in instrument.items
        ],
    )
    db.add(response)
    # The words themselves are kept by their hash: staff pages show answers with them.
    keep_shown_wording(db, instrument, language)
    # The list sorts by the patient's figures: they change with this response, in this
    # transaction, or not at all.
    refresh_summary(db, invitation.patient_id)
    return response
