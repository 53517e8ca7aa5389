"""One patient's course: every timepoint, each instrument's baseline, latest and change, flags.

Plain functions over the database session; the views render what `patient_course` returns and
the tests check its figures by hand.

- **Baseline** (per instrument): the response given at the timepoint called `baseline` when
  there is one, otherwise the earliest response.
- **Latest** (per instrument): the most recently submitted response.
- **Change**: latest minus baseline. For both instruments a higher total is worse, so a
  negative change is an improvement; `change_text` words it ("−23 (better)").
- **Day**: days from the patient's index date (the procedure) to the day, in the patient's
  time zone, the answers were submitted (or, unanswered, the timepoint opened). Without an
  index date, days count from the first answered timepoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey.clinic import followup
from survey.clinic.flags import Flag, raise_flags
from survey.instruments import INSTRUMENT_IDS, Band, Instrument, get_instrument
from survey.invitation_dates import InvitationDates, Stage, stage_of
from survey.models import Invitation, Patient, Response, utcnow

BASELINE_TIMEPOINT = "baseline"
MINUS = "\u2212"


@dataclass(frozen=True)
class Change:
    """From one total to another, on an instrument where `higher_is_worse` says which way is bad."""

    start: int
    end: int
    higher_is_worse: bool = True

    @property
    def delta(self) -> int:
        return self.end - self.start

    @property
    def direction(self) -> str:
        """ "better", "worse" or "same"."""
        if self.delta == 0:
            return "same"
        return "worse" if (self.delta > 0) == self.higher_is_worse else "better"


@dataclass(frozen=True)
class Result:
    """One stored response as the clinic reads it."""

    response_id: int
    invitation_id: int
    instrument_id: str
    timepoint: str
    submitted_at: datetime
    day: int | None
    total: int
    band_id: str | None
    subscales: dict[str, int]
    answers: tuple[tuple[str, int], ...]
    language: str
    wording_status: str
    wording_hash: str
    instrument_version: str

    @property
    def instrument(self) -> Instrument:
        return get_instrument(self.instrument_id)

    @property
    def band(self) -> Band | None:
        return band_by_id(self.instrument, self.band_id)

    def answer(self, item_id: str) -> int | None:
        return dict(self.answers).get(item_id)


@dataclass
class InstrumentCourse:
    """One instrument's results in the order they were submitted, with baseline and latest."""

    instrument: Instrument
    results: list[Result]
    baseline: Result | None
    latest: Result | None

    @property
    def change(self) -> Change | None:
        """Latest against baseline; None until there are two different responses."""
        if self.baseline is None or self.latest is None or self.latest is self.baseline:
            return None
        return self.change_of(self.latest)

    def change_of(self, result: Result) -> Change | None:
        """`result` against baseline, or None for the baseline itself."""
        if self.baseline is None or result is self.baseline:
            return None
        return Change(self.baseline.total, result.total, self.instrument.higher_is_worse)


@dataclass
class TimelineEntry:
    """One invitation on the timeline, answered or not."""

    invitation_id: int
    label: str
    opens_at: datetime
    expires_at: datetime
    status: str  # completed, partial, open, upcoming, missed, cancelled
    day: int | None
    results: dict[str, Result] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)


@dataclass
class Course:
    """Everything the patient page shows, computed without a request."""

    patient: Patient
    origin: date | None  # day 0 of the x axis
    origin_is_index_date: bool
    timepoints: list[TimelineEntry]
    instruments: dict[str, InstrumentCourse]
    flags: list[Flag]
    latest_timepoint: TimelineEntry | None
    next_invitation: Invitation | None  # the next one due (see followup.py)
    next_due: datetime | None  # when it opens
    next_dates: InvitationDates | None  # its stage and dates, as every page describes them
    overdue: Invitation | None
    threshold: int

    @property
    def latest_flags(self) -> list[Flag]:
        """Flags raised by the latest answered timepoint: what is new since last time."""
        return self.latest_timepoint.flags if self.latest_timepoint else []

    @property
    def earlier_flags(self) -> list[Flag]:
        return [flag for flag in self.flags if flag not in self.latest_flags]


def band_by_id(instrument: Instrument, band_id: str | None) -> Band | None:
    """The instrument's band with this id (as stored with a response), or None."""
    return next((band for band in instrument.bands if band.id == band_id), None)


def change_text(change: Change | None) -> str:
    """A change in words a clinician reads at a glance: "−23 (better)", "+5 (worse)"."""
    if change is None:
        return ""
    if change.direction == "same":
        return _("0 (no change)")
    number = f"+{change.delta}" if change.delta > 0 else f"{MINUS}{-change.delta}"
    if change.direction == "better":
        return _("%(change)s (better)", change=number)
    return _("%(change)s (worse)", change=number)


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of `moment` where the patient lives."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def patient_course(
    db: Session,
    patient: Patient,
    threshold: int = 3,
    now: datetime | None = None,
    grace: timedelta = followup.DEFAULT_GRACE,
) -> Course:
    """Build a patient's course from their invitations and stored responses."""
    now = now or utcnow()
    invitations = db.scalars(
        select(Invitation)
        .where(Invitation.patient_id == patient.id)
        .options(selectinload(Invitation.responses).selectinload(Response.answers))
        .order_by(Invitation.opens_at, Invitation.id)
    ).all()
    responses = sorted(
        (response for invitation in invitations for response in invitation.responses),
        key=lambda response: (response.submitted_at, response.id),
    )

    origin, origin_is_index_date = patient.index_date, patient.index_date is not None
    if origin is None and responses:
        origin = local_date(responses[0].submitted_at, patient.timezone)

    def day_of(moment: datetime) -> int | None:
        return None if origin is None else (local_date(moment, patient.timezone) - origin).days

    results = {response.id: _result(response, day_of) for response in responses}
    instruments = {
        instrument_id: _instrument_course(
            instrument_id, [results[r.id] for r in responses if r.instrument_id == instrument_id]
        )
        for instrument_id in INSTRUMENT_IDS
    }
    timepoints = [_timepoint(invitation, results, day_of, now) for invitation in invitations]

    flags = raise_flags(instruments, timepoints, threshold)
    for timepoint in timepoints:
        timepoint.flags = [flag for flag in flags if flag.invitation_id == timepoint.invitation_id]
    answered = [timepoint for timepoint in timepoints if timepoint.results]
    latest = max(
        answered,
        key=lambda timepoint: max(
            (r.submitted_at, r.response_id) for r in timepoint.results.values()
        ),
        default=None,
    )
    return Course(
        patient=patient,
        origin=origin,
        origin_is_index_date=origin_is_index_date,
        timepoints=timepoints,
        instruments=instruments,
        flags=flags,
        latest_timepoint=latest,
        next_invitation=(next_invitation := followup.next_invitation(invitations, now)),
        next_due=next_invitation.opens_at if next_invitation else None,
        next_dates=InvitationDates.of(next_invitation, now) if next_invitation else None,
        overdue=followup.overdue_invitation(patient, invitations, now, grace),
        threshold=threshold,
    )


def _result(response: Response, day_of) -> Result:
    return Result(
        response_id=response.id,
        invitation_id=response.invitation_id,
        instrument_id=response.instrument_id,
        timepoint=response.invitation.timepoint,
        submitted_at=response.submitted_at,
        day=day_of(response.submitted_at),
        total=response.total,
        band_id=response.band,
        subscales=dict(response.subscales or {}),
        answers=tuple((answer.item_id, answer.value) for answer in response.answers),
        language=response.language,
        wording_status=response.wording_status,
        wording_hash=response.wording_hash,
        instrument_version=response.instrument_version,
    )


def _instrument_course(instrument_id: str, results: list[Result]) -> InstrumentCourse:
    at_baseline = [result for result in results if result.timepoint == BASELINE_TIMEPOINT]
    return InstrumentCourse(
        instrument=get_instrument(instrument_id),
        results=results,
        baseline=(at_baseline or results or [None])[0],
        latest=results[-1] if results else None,
    )


# A timepoint without answers is where its invitation stands (survey/invitation_dates.py).
TIMEPOINT_STAGE = {
    Stage.ANSWERED: "completed",
    Stage.CANCELLED: "cancelled",
    Stage.UPCOMING: "upcoming",
    Stage.OPEN: "open",
    Stage.CLOSED: "missed",
}


def timepoint_status(
    invitation: Invitation, answered_instruments: set[str] | frozenset[str], now: datetime
) -> str:
    """Where a timepoint stands: completed, partial, open, upcoming, missed or cancelled."""
    if answered_instruments and set(invitation.instrument_ids) <= set(answered_instruments):
        return "completed"
    if answered_instruments:
        return "partial"
    return TIMEPOINT_STAGE[
        stage_of(invitation.status, invitation.opens_at, invitation.expires_at, now)
    ]


def _timepoint(invitation: Invitation, results: dict[int, Result], day_of, now) -> TimelineEntry:
    answered = {
        response.instrument_id: results[response.id]
        for response in sorted(invitation.responses, key=lambda r: (r.submitted_at, r.id))
    }
    first_answer = min((result.submitted_at for result in answered.values()), default=None)
    return TimelineEntry(
        invitation_id=invitation.id,
        label=invitation.timepoint,
        opens_at=invitation.opens_at,
        expires_at=invitation.expires_at,
        status=timepoint_status(invitation, set(answered), now),
        day=day_of(first_answer or invitation.opens_at),
        results=answered,
    )
