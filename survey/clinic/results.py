"""One patient's course: every timepoint, each instrument's baseline, latest and changes, flags.

Plain functions over the database session; the views render what `patient_course` returns and
the tests check its figures by hand.

- **Baseline** (per instrument): the response given at the timepoint called `baseline` when
  there is one, otherwise the earliest response.
- **Latest** (per instrument): the most recently submitted response.
- **Changes**: every response against baseline, the previous response and the best before it,
  judged by the instrument's minimal important change in the direction the instrument
  declares (`survey.instruments.change`); `change_text` words one ("−23 (better)",
  "−1 (no meaningful change)").
- **Day**: days from the patient's index date (the procedure) to the day, in the patient's
  time zone, the answers were submitted (or, unanswered, the timepoint opened). Without an
  index date, days count from the first answered timepoint.
- **Episodes**: a patient treated in stages (a seton, then a definitive repair; a recurrence)
  has an episode of care per index date. Baseline, previous, best and days are read within
  each episode, from its own index date; the course's own fields are the current (latest)
  episode's, and `Course.episodes` holds every episode's.
- **Wording**: each response carries the texts its patient was shown (kept by wording hash),
  never today's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey.clinic import followup
from survey.clinic.flags import Flag, minimal_important_changes, raise_flags
from survey.domain.episodes import episode_key
from survey.domain.invitation_dates import InvitationDates, Stage, stage_of
from survey.domain.wording_in_use import shown_wordings
from survey.i18n import gettext as _
from survey.instruments import INSTRUMENT_IDS, Band, Instrument, get_instrument
from survey.instruments.change import (
    Comparison,
    Direction,
    PointChanges,
    Verdict,
    compare_series,
)
from survey.models import Invitation, Patient, Response, utcnow

BASELINE_TIMEPOINT = "baseline"
PROVISIONAL = "provisional"
MINUS = "\u2212"


@dataclass(frozen=True)
class ShownWording:
    """The texts one response's patient was shown: title, item texts, answer labels."""

    version: str
    status: str
    texts: dict  # survey.instruments.shown_text(): title, instructions, items, options, ...

    def item_text(self, number: int) -> str:
        """The text of item `number` (from 1) as the patient read it."""
        return self.texts["items"][number - 1]

    def option_label(self, value: int) -> str | None:
        """The label of the answer `value` as the patient read it."""
        return next((o["label"] for o in self.texts["options"] if o["value"] == value), None)


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
    wording_version: str
    instrument_version: str
    shown: ShownWording | None = None  # None: the wording's texts are not on record
    mode: str = "web"  # web, tablet, paper, phone (survey.models.ResponseMode)
    entered_by: str | None = None  # the staff member's address, for paper and phone

    @property
    def instrument(self) -> Instrument:
        return get_instrument(self.instrument_id)

    @property
    def band(self) -> Band | None:
        return band_by_id(self.instrument, self.band_id)

    @property
    def provisional(self) -> bool:
        """Answered with provisional wording: the total is not a validated score."""
        return self.wording_status == PROVISIONAL

    def answer(self, item_id: str) -> int | None:
        return dict(self.answers).get(item_id)


@dataclass
class InstrumentCourse:
    """One instrument's results in the order they were submitted, with baseline, latest and
    each result's changes (`changes[i]` belongs to `results[i]`)."""

    instrument: Instrument
    results: list[Result]
    baseline: Result | None
    latest: Result | None
    changes: tuple[PointChanges, ...] = ()

    def changes_of(self, result: Result) -> PointChanges | None:
        """`result` against baseline, previous and best; None for a result not in the course."""
        for index, candidate in enumerate(self.results):
            if candidate is result:
                return self.changes[index]
        return None

    def change_of(self, result: Result) -> Comparison | None:
        """`result` against baseline, or None for the baseline itself."""
        changes = self.changes_of(result)
        return changes.baseline if changes else None

    @property
    def latest_changes(self) -> PointChanges | None:
        return self.changes[-1] if self.changes else None

    @property
    def change(self) -> Comparison | None:
        """Latest against baseline; None until there are two different responses."""
        return self.latest_changes.baseline if self.latest_changes else None

    def result_at(self, index: int) -> Result:
        """The result a comparison's `start_index` points at."""
        return self.results[index]

    def provisional_in(self, comparison: Comparison | None, result: Result) -> bool:
        """Whether either end of `comparison` (ending at `result`) was answered with
        provisional wording."""
        if comparison is None:
            return result.provisional
        return result.provisional or self.results[comparison.start_index].provisional

    @property
    def wordings(self) -> list[tuple[str, str, list[Result]]]:
        """The results grouped by the wording they were given to, in order of first use:
        (language, wording hash, results)."""
        groups: dict[tuple[str, str], list[Result]] = {}
        for result in self.results:
            groups.setdefault((result.language, result.wording_hash), []).append(result)
        return [(lang, wording_hash, found) for (lang, wording_hash), found in groups.items()]


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
    # Every episode of care, oldest first; the fields above are the last (current) one's.
    episodes: list[EpisodeCourse] = field(default_factory=list)

    @property
    def earlier_episodes(self) -> list[EpisodeCourse]:
        """The episodes before the current one, newest first."""
        return self.episodes[-2::-1]

    @property
    def latest_flags(self) -> list[Flag]:
        """Flags raised by the latest answered timepoint: what is new since last time."""
        return self.latest_timepoint.flags if self.latest_timepoint else []

    @property
    def earlier_flags(self) -> list[Flag]:
        return [flag for flag in self.flags if flag not in self.latest_flags]

    @property
    def any_provisional(self) -> bool:
        return any(r.provisional for c in self.instruments.values() for r in c.results)


def band_by_id(instrument: Instrument, band_id: str | None) -> Band | None:
    """The instrument's band with this id (as stored with a response), or None."""
    return next((band for band in instrument.bands if band.id == band_id), None)


def signed(delta: int) -> str:
    """A change as a clinician writes it: "+5", "−23" (a true minus sign), "0"."""
    if delta > 0:
        return f"+{delta}"
    return f"{MINUS}{-delta}" if delta < 0 else "0"


def change_text(change: Comparison | None) -> str:
    """A change in words a clinician reads at a glance: "−23 (better)", "+5 (worse)",
    "−1 (no meaningful change)" when it is smaller than the minimal important change."""
    if change is None:
        return ""
    if change.direction == Direction.SAME:
        return _("0 (no change)")
    number = signed(change.delta)
    if change.verdict == Verdict.NO_MEANINGFUL_CHANGE:
        return _("%(change)s (no meaningful change)", change=number)
    if change.direction == Direction.BETTER:
        return _("%(change)s (better)", change=number)
    return _("%(change)s (worse)", change=number)


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of `moment` where the patient lives."""
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass
class EpisodeCourse:
    """One episode of care's results: timepoints counted from its own index date, and each
    instrument's baseline, previous and best read within it."""

    number: int
    label: str | None  # survey.domain.episodes.label_text words it
    index_date: date | None
    started_at: datetime | None
    origin: date | None
    origin_is_index_date: bool
    timepoints: list[TimelineEntry]
    instruments: dict[str, InstrumentCourse]
    flags: list[Flag]
    latest_timepoint: TimelineEntry | None

    @property
    def responses(self) -> int:
        return sum(len(course.results) for course in self.instruments.values())


def patient_course(
    db: Session,
    patient: Patient,
    threshold: int = 3,
    now: datetime | None = None,
    grace: timedelta = followup.DEFAULT_GRACE,
) -> Course:
    """Build a patient's course from their invitations and stored responses: one
    `EpisodeCourse` per episode of care, and the current (latest) one's figures at the top."""
    now = now or utcnow()
    invitations = db.scalars(
        select(Invitation)
        .where(Invitation.patient_id == patient.id)
        .options(selectinload(Invitation.responses).selectinload(Response.answers))
        .order_by(Invitation.opens_at, Invitation.id)
    ).all()
    responses = [response for invitation in invitations for response in invitation.responses]
    kept = shown_wordings(db, {(r.instrument_id, r.language, r.wording_hash) for r in responses})
    mics = minimal_important_changes(threshold)
    episodes = list(patient.episodes)
    grouped: dict[int | None, list[Invitation]] = {}
    for invitation in invitations:
        grouped.setdefault(episode_key(invitation, episodes), []).append(invitation)
    courses = [
        _episode_course(patient, episode, grouped.get(episode.id, []), kept, mics, threshold, now)
        for episode in episodes
    ] or [_episode_course(patient, None, list(invitations), kept, mics, threshold, now)]
    current = courses[-1]
    return Course(
        patient=patient,
        origin=current.origin,
        origin_is_index_date=current.origin_is_index_date,
        timepoints=current.timepoints,
        instruments=current.instruments,
        flags=current.flags,
        latest_timepoint=current.latest_timepoint,
        next_invitation=(next_invitation := followup.next_invitation(invitations, now)),
        next_due=next_invitation.opens_at if next_invitation else None,
        next_dates=InvitationDates.of(next_invitation, now) if next_invitation else None,
        overdue=followup.overdue_invitation(patient, invitations, now, grace),
        threshold=threshold,
        episodes=courses,
    )


def _episode_course(
    patient: Patient, episode, invitations: list[Invitation], kept, mics, threshold, now
) -> EpisodeCourse:
    """One episode's timepoints and instrument courses (`episode` None: a patient without
    episode rows, read as one episode from their own index date)."""
    index_date = episode.index_date if episode is not None else patient.index_date
    responses = sorted(
        (response for invitation in invitations for response in invitation.responses),
        key=lambda response: (response.submitted_at, response.id),
    )
    origin, origin_is_index_date = index_date, index_date is not None
    if origin is None and responses:
        origin = local_date(responses[0].submitted_at, patient.timezone)

    def day_of(moment: datetime) -> int | None:
        return None if origin is None else (local_date(moment, patient.timezone) - origin).days

    results = {response.id: _result(response, day_of, kept) for response in responses}
    instruments = {
        instrument_id: _instrument_course(
            instrument_id,
            [results[r.id] for r in responses if r.instrument_id == instrument_id],
            mics[instrument_id],
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
    return EpisodeCourse(
        number=episode.number if episode is not None else 1,
        label=episode.label if episode is not None else None,
        index_date=index_date,
        started_at=episode.started_at if episode is not None else None,
        origin=origin,
        origin_is_index_date=origin_is_index_date,
        timepoints=timepoints,
        instruments=instruments,
        flags=flags,
        latest_timepoint=latest,
    )


def _result(response: Response, day_of, kept: dict) -> Result:
    shown = kept.get((response.instrument_id, response.language, response.wording_hash))
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
        wording_version=response.wording_version,
        instrument_version=response.instrument_version,
        mode=response.mode,
        entered_by=response.entered_by.email if response.entered_by is not None else None,
        shown=None
        if shown is None
        else ShownWording(shown.wording_version, shown.wording_status, dict(shown.texts)),
    )


def _instrument_course(instrument_id: str, results: list[Result], mic) -> InstrumentCourse:
    instrument = get_instrument(instrument_id)
    at_baseline = [result for result in results if result.timepoint == BASELINE_TIMEPOINT]
    baseline = (at_baseline or results or [None])[0]
    return InstrumentCourse(
        instrument=instrument,
        results=results,
        baseline=baseline,
        latest=results[-1] if results else None,
        changes=compare_series(
            instrument,
            [result.total for result in results],
            baseline=next((i for i, r in enumerate(results) if r is baseline), None),
            mic=mic,
        ),
    )


# A timepoint without answers is where its invitation stands (survey/domain/invitation_dates.py).
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
