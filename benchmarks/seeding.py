"""Many patients with a full follow-up history, written in bulk, for measuring the clinic pages.

Each patient follows the default schedule (baseline, 3 weeks, 3, 6 and 12 months) and has
answered every timepoint the way a submission leaves it: the invitation completed with its
start and completion times, a QoLAF-Q and a CCIS response scored by the instruments' own
scoring, with the wording shown, and one answer row per item. One patient in ten has not
answered the 12-month timepoint yet: half of them are past the grace period (overdue), half
are waiting for it to open (next due), so the filters have something to find.

Rows are written table by table with COPY on PostgreSQL (executemany elsewhere), with ids
given here, because going through the ORM one object at a time would take hours at 100,000
patients. No text messages are written: once a timepoint is answered, the dispatcher has
nothing left to send for it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from survey.domain.summaries import refresh_summaries
from survey.domain.wording_in_use import instrument_in_use, keep_shown_wording
from survey.instruments import Instrument, fingerprint, scoring
from survey.instruments.answers import validate_answers
from survey.models import (
    Base,
    Episode,
    Invitation,
    InvitationStatus,
    Patient,
    PatientStatus,
    Response,
    Site,
    utcnow,
)
from survey.outreach.policy import at_local
from survey.outreach.schedule_definitions import ensure_default_schedule

CHUNK = 2_000  # patients written per round: bounded memory whatever the number asked for
UNANSWERED_EVERY = 10  # one patient in ten has the 12-month timepoint still to answer
# Seeded patients speak the first three languages shipped, whatever else a clinic has added,
# so that seeded data (and the benchmarks measured on it) stay the same.
LANGUAGES = ("en", "es", "tr")
TABLES = ("patients", "episodes", "patient_summaries", "invitations", "responses", "answers")


@dataclass(frozen=True)
class Seeded:
    patients: int
    invitations: int
    responses: int
    answers: int


def seed_patients(
    db: Session,
    site: Site,
    count: int,
    *,
    prefix: str = "BENCH-",
    seed: int = 1,
    now: datetime | None = None,
) -> Seeded:
    """Add `count` patients to `site` with their answered timepoints, and commit.

    References are `prefix` and a number, continuing after the site's existing ones with that
    prefix, so running it again adds more patients instead of failing."""
    if count < 1:
        raise ValueError("count must be at least 1")
    now = now or utcnow()
    schedule = ensure_default_schedule(db)
    timepoints = list(schedule.timepoints)
    instruments = {
        instrument_id: instrument_in_use(db, instrument_id) for instrument_id in ("qolaf-q", "ccis")
    }
    # Every wording the seeded responses say they were given to is kept, as for real answers.
    for instrument in instruments.values():
        for language in LANGUAGES:
            keep_shown_wording(db, instrument, language)
    first_number = 1 + db.scalar(
        select(func.count()).where(Patient.site_id == site.id, Patient.reference.like(f"{prefix}%"))
    )
    ids = {model: _next_id(db, model) for model in (Patient, Episode, Invitation, Response)}
    # Reproducible made-up data, not secrets: the standard generator is the right tool.
    rng = random.Random(f"{seed}-{first_number}")  # noqa: S311
    written = dict.fromkeys(TABLES, 0)
    for start in range(0, count, CHUNK):
        rows: dict[str, list[dict]] = {name: [] for name in TABLES}
        for number in range(first_number + start, first_number + min(start + CHUNK, count)):
            _patient(rows, ids, site, timepoints, instruments, rng, prefix, number, now)
        # Parents before children, so the foreign keys hold at every step.
        for name in TABLES:
            _bulk_insert(db, Base.metadata.tables[name], rows[name])
            written[name] += len(rows[name])
        # The list's figures, worked out by the same code as after a real submission.
        refresh_summaries(db, rows["patients"][0]["id"], rows["patients"][-1]["id"])
    _advance_sequences(db)
    db.commit()
    _analyze(db)
    del written["patient_summaries"], written["episodes"]
    return Seeded(**written)


def _next_id(db: Session, model) -> Iterator[int]:
    start = (db.scalar(select(func.max(model.id))) or 0) + 1
    while True:
        yield start
        start += 1


def _patient(rows, ids, site, timepoints, instruments, rng, prefix, number, now) -> None:
    """One patient's rows: enrolment, five timepoints, their responses and answers."""
    patient_id = next(ids[Patient])
    language = LANGUAGES[number % len(LANGUAGES)]
    last = timepoints[-1]
    if number % UNANSWERED_EVERY == 0:
        # Half overdue (opened 8 to 20 days ago), half with the 12-month timepoint ahead.
        days = rng.randint(8, 20) if number % (2 * UNANSWERED_EVERY) else -rng.randint(1, 60)
        index_date = (now - timedelta(days=last.offset_days + days)).date()
    else:
        index_date = (
            now - timedelta(days=rng.randint(last.offset_days + last.window_days + 5, 1_100))
        ).date()
    enrolled_at = datetime.combine(index_date - timedelta(days=30), time(10), UTC)
    rows["patients"].append(
        {
            "id": patient_id,
            "site_id": site.id,
            "reference": f"{prefix}{number:07d}",
            "phone": f"+3461{number % 10_000_000:07d}",
            "language": language,
            "timezone": site.timezone,
            "index_date": index_date,
            "status": PatientStatus.ACTIVE.value,
            "opted_out_at": None,
            "schedule_id": timepoints[0].schedule_id,
            "created_at": enrolled_at,
        }
    )
    # One episode of care, as enrolment makes (survey/domain/enrolment.py).
    episode_id = next(ids[Episode])
    rows["episodes"].append(
        {
            "id": episode_id,
            "patient_id": patient_id,
            "number": 1,
            "index_date": index_date,
            "schedule_id": timepoints[0].schedule_id,
            "started_at": enrolled_at,
        }
    )
    rows["patient_summaries"].append({"patient_id": patient_id})  # filled once answers are in
    # A course that usually improves after treatment, with noise, as in the published series.
    qolaf_total = rng.randint(30, 66)
    ccis_total = rng.randint(0, 16)
    for position, timepoint in enumerate(timepoints):
        opens_on = index_date + timedelta(days=timepoint.offset_days)
        opens_at = at_local(opens_on, time(9), site.timezone)
        # Closes at 09:00 on the patient's clock too, as the scheduler plans it.
        expires_at = at_local(
            opens_on + timedelta(days=timepoint.window_days), time(9), site.timezone
        )
        submitted_at = opens_at + timedelta(
            days=rng.randint(0, timepoint.window_days - 1),
            hours=rng.randint(0, 10),
            minutes=rng.randint(0, 59),
        )
        answered = submitted_at < now and not (timepoint is last and number % UNANSWERED_EVERY == 0)
        invitation_id = next(ids[Invitation])
        rows["invitations"].append(
            {
                "id": invitation_id,
                "patient_id": patient_id,
                "timepoint": timepoint.label,
                "timepoint_id": timepoint.id,
                "episode_id": episode_id,
                "instrument_ids": list(timepoint.instrument_ids),
                "opens_at": opens_at,
                "expires_at": expires_at,
                "status": (InvitationStatus.COMPLETED if answered else InvitationStatus.OPEN).value,
                "language": language if answered else None,
                "created_at": enrolled_at,
                "started_at": submitted_at - timedelta(minutes=3) if answered else None,
                "completed_at": submitted_at if answered else None,
            }
        )
        if not answered:
            continue
        if position:
            qolaf_total = max(14, min(70, qolaf_total - rng.randint(-3, 9)))
            ccis_total = max(0, min(20, ccis_total + rng.randint(-4, 2)))
        for instrument_id, total in (("qolaf-q", qolaf_total), ("ccis", ccis_total)):
            _response(
                rows,
                ids,
                instruments[instrument_id],
                patient_id,
                invitation_id,
                language,
                total,
                submitted_at,
                rng,
            )


def _response(
    rows, ids, instrument: Instrument, patient_id, invitation_id, language, total, submitted_at, rng
) -> None:
    """A response scored by the instrument itself, as `store_response` would store it."""
    answers = _answers_adding_up_to(instrument, total, rng)
    score = scoring.score(instrument, answers)
    values = validate_answers(instrument, answers)
    response_id = next(ids[Response])
    rows["responses"].append(
        {
            "id": response_id,
            "invitation_id": invitation_id,
            "patient_id": patient_id,
            "instrument_id": instrument.id,
            "instrument_version": instrument.version,
            "wording_version": instrument.wording_version(language),
            "wording_hash": fingerprint.wording_hash(instrument, language),
            "wording_status": instrument.wording_status(language),
            "language": language,
            "total": score.total,
            "band": score.band.id if score.band else None,
            "subscales": dict(score.subscales),
            "submitted_at": submitted_at,
        }
    )
    rows["answers"].extend(
        {
            "response_id": response_id,
            "item_id": item.id,
            "position": item.number,
            "value": values[item.id],
        }
        for item in instrument.items
    )


def _answers_adding_up_to(instrument: Instrument, total: int, rng) -> dict[str, int]:
    """Answers spread at random over the items, adding up to `total`."""
    values = [option.value for option in instrument.options]
    lowest, highest = min(values), max(values)
    answers = {item.id: lowest for item in instrument.items}
    room = [item_id for item_id in answers]
    for _ in range(total - lowest * len(answers)):
        item_id = rng.choice(room)
        answers[item_id] += 1
        if answers[item_id] == highest:
            room.remove(item_id)
    return answers


def _bulk_insert(db: Session, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    names = ", ".join(f'"{column}"' for column in columns)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])


def _analyze(db: Session) -> None:
    # Fresh statistics, as autovacuum would gather later: without them PostgreSQL believes a
    # site has a hundred patients and sorts all of them instead of reading an index.
    if db.connection().dialect.name == "postgresql":
        db.execute(text("ANALYZE"))
        db.commit()


def _advance_sequences(db: Session) -> None:
    # The ids were given here, so PostgreSQL's sequences must be moved past them by hand.
    if db.connection().dialect.name != "postgresql":
        return
    for table in ("patients", "episodes", "invitations", "responses"):  # our names, not input
        db.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        )
