"""Follow-up schedules as data: the shipped default, the checks every schedule passes, and
creating, exporting and retiring schedules.

A schedule is a list of timepoints. Each opens a number of days from the patient's index date
(the procedure date; negative means before it), stays open for its window, asks its
instruments, and reminds the patient a number of days after the invitation was sent. A
schedule that patients follow is never edited (their invitations were made from it): make a
new one and retire the old.
"""

from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey import text
from survey.instruments import INSTRUMENT_IDS
from survey.models import Patient, Schedule, Timepoint, User
from survey.translatable import lazy_gettext as _l

DEFAULT_SCHEDULE_NAME = "Standard follow-up"
MAX_TIMEPOINTS = 20
MAX_REMINDERS = 5
OFFSET_RANGE = (-365, 3650)
WINDOW_RANGE = (1, 365)


@dataclass(frozen=True)
class TimepointSpec:
    """A timepoint as written by an administrator, before it is stored."""

    label: str
    offset_days: int
    window_days: int
    reminder_days: tuple[int, ...] = ()
    instrument_ids: tuple[str, ...] = INSTRUMENT_IDS


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    description: str = ""
    timepoints: tuple[TimepointSpec, ...] = field(default_factory=tuple)


# The shipped default for anal fistula follow-up. Baseline is answered in the two weeks
# before the procedure; later timepoints follow the intervals used in the published
# follow-up of fistula treatment (3 weeks, 3, 6 and 12 months), with windows that widen as
# the exact day matters less. Reminders count from the day the invitation was sent.
DEFAULT_SCHEDULE = ScheduleSpec(
    name=DEFAULT_SCHEDULE_NAME,
    description="Baseline before the procedure, then 3 weeks, 3, 6 and 12 months after it.",
    timepoints=(
        TimepointSpec("baseline", -14, 14, (4, 10)),
        TimepointSpec("3 weeks", 21, 14, (3, 7)),
        TimepointSpec("3 months", 91, 21, (3, 7, 14)),
        TimepointSpec("6 months", 182, 21, (3, 7, 14)),
        TimepointSpec("12 months", 365, 28, (3, 7, 14)),
    ),
)


class ScheduleError(ValueError):
    """A schedule cannot be stored; `problems` says why, one plain sentence each."""

    def __init__(self, problems: list) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


class ScheduleTaken(ScheduleError):
    """A schedule of that name exists (perhaps made a moment ago by the same form, posted
    twice); `name` is the tidied name."""

    def __init__(self, name: str) -> None:
        super().__init__([_l("A schedule called %(name)s already exists.", name=name)])
        self.name = name


def check_schedule(spec: ScheduleSpec) -> ScheduleSpec:
    """The schedule with tidied names, or ScheduleError listing every problem found."""
    problems = []
    name = _checked(text.SCHEDULE_NAME, spec.name, problems)
    description = _checked(text.SCHEDULE_DESCRIPTION, spec.description, problems)
    if not spec.timepoints:
        problems.append(_l("A schedule needs at least one timepoint."))
    if len(spec.timepoints) > MAX_TIMEPOINTS:
        problems.append(_l("A schedule has at most %(count)d timepoints.", count=MAX_TIMEPOINTS))
    timepoints, labels = [], set()
    for timepoint in spec.timepoints:
        checked = _check_timepoint(timepoint, problems)
        if checked.label and checked.label.casefold() in labels:
            problems.append(_l("Two timepoints are called %(label)s.", label=checked.label))
        labels.add(checked.label.casefold())
        timepoints.append(checked)
    if problems:
        raise ScheduleError(problems)
    timepoints.sort(key=lambda timepoint: timepoint.offset_days)
    return ScheduleSpec(name, description, tuple(timepoints))


def _check_timepoint(timepoint: TimepointSpec, problems: list) -> TimepointSpec:
    label = _checked(text.TIMEPOINT_LABEL, timepoint.label, problems)
    shown = label or "?"
    offset, window = timepoint.offset_days, timepoint.window_days
    if not isinstance(offset, int) or not OFFSET_RANGE[0] <= offset <= OFFSET_RANGE[1]:
        problems.append(
            _l(
                "%(label)s: the day must be between %(low)d and %(high)d.",
                label=shown,
                low=OFFSET_RANGE[0],
                high=OFFSET_RANGE[1],
            )
        )
    if not isinstance(window, int) or not WINDOW_RANGE[0] <= window <= WINDOW_RANGE[1]:
        problems.append(
            _l(
                "%(label)s: the window must be %(low)d to %(high)d days.",
                label=shown,
                low=WINDOW_RANGE[0],
                high=WINDOW_RANGE[1],
            )
        )
        window = WINDOW_RANGE[1]
    given = tuple(timepoint.reminder_days)
    reminders = tuple(sorted({day for day in given if isinstance(day, int)}))
    if len(reminders) > MAX_REMINDERS:
        problems.append(
            _l("%(label)s: at most %(count)d reminders.", label=shown, count=MAX_REMINDERS)
        )
    if len(reminders) != len(set(given)) or any(not 1 <= day < window for day in reminders):
        problems.append(
            _l(
                "%(label)s: reminders must fall inside the window (1 to %(last)d days after "
                "the invitation).",
                label=shown,
                last=max(window - 1, 1),
            )
        )
    instruments = tuple(dict.fromkeys(timepoint.instrument_ids))
    if not instruments or any(item not in INSTRUMENT_IDS for item in instruments):
        problems.append(
            _l(
                "%(label)s: choose one or more of the questionnaires %(choices)s.",
                label=shown,
                choices=", ".join(INSTRUMENT_IDS),
            )
        )
    return TimepointSpec(label, offset, window, reminders, instruments)


def _checked(rule: text.TextRule, value, problems: list) -> str:
    """The text as `rule` stores it, or "" with the reason added to `problems`."""
    try:
        return rule.clean(value)
    except text.TextError as error:
        problems.append(error.args[0])
        return ""


def create_schedule(db: Session, spec: ScheduleSpec, user: User | None = None) -> Schedule:
    """Store a new schedule after checking it; names are unique."""
    spec = check_schedule(spec)
    if db.scalar(select(Schedule.id).where(Schedule.name == spec.name)) is not None:
        raise ScheduleTaken(spec.name)
    schedule = Schedule(
        name=spec.name,
        description=spec.description,
        created_by_id=user.id if user else None,
        timepoints=[
            Timepoint(
                position=position,
                label=timepoint.label,
                offset_days=timepoint.offset_days,
                window_days=timepoint.window_days,
                reminder_days=list(timepoint.reminder_days),
                instrument_ids=list(timepoint.instrument_ids),
            )
            for position, timepoint in enumerate(spec.timepoints, start=1)
        ],
    )
    try:
        # A savepoint: the same form posted twice at once passes the check above twice, and
        # the database's unique name refuses the second schedule.
        with db.begin_nested():
            db.add(schedule)
    except IntegrityError:
        raise ScheduleTaken(spec.name) from None
    return schedule


def is_same_schedule(schedule: Schedule, spec: ScheduleSpec, user: User | None) -> bool:
    """Whether `schedule` is what this user asked for with `spec`: a second post of the form
    that made it finds it."""
    try:
        spec = check_schedule(spec)
    except ScheduleError:
        return False
    return spec_of(schedule) == spec and schedule.created_by_id == (user.id if user else None)


def ensure_default_schedule(db: Session) -> Schedule:
    """The shipped default schedule, stored the first time anyone needs it."""
    found = db.scalar(select(Schedule).where(Schedule.name == DEFAULT_SCHEDULE_NAME))
    if found is not None:
        return found
    try:
        with db.begin_nested():
            schedule = create_schedule(db, DEFAULT_SCHEDULE)
    except IntegrityError:  # another request stored it first
        return db.scalar(select(Schedule).where(Schedule.name == DEFAULT_SCHEDULE_NAME))
    return schedule


def active_schedules(db: Session) -> list[Schedule]:
    """Schedules offered for new enrolments, the default first."""
    ensure_default_schedule(db)
    schedules = db.scalars(select(Schedule).where(Schedule.active).order_by(Schedule.name))
    return sorted(schedules, key=lambda schedule: schedule.name != DEFAULT_SCHEDULE_NAME)


def schedule_by_name(db: Session, name: str) -> Schedule | None:
    if not text.SCHEDULE_NAME.is_valid(name):
        return None  # no schedule could have that name; it must not reach a query
    name = text.SCHEDULE_NAME.clean(name)
    if name == DEFAULT_SCHEDULE_NAME:
        return ensure_default_schedule(db)
    return db.scalar(select(Schedule).where(Schedule.name == name))


def in_use(db: Session, schedule: Schedule) -> bool:
    """Whether any patient follows the schedule."""
    return bool(db.scalar(select(exists().where(Patient.schedule_id == schedule.id))))


def spec_of(schedule: Schedule) -> ScheduleSpec:
    return ScheduleSpec(
        schedule.name,
        schedule.description,
        tuple(
            TimepointSpec(
                timepoint.label,
                timepoint.offset_days,
                timepoint.window_days,
                tuple(timepoint.reminder_days),
                tuple(timepoint.instrument_ids),
            )
            for timepoint in schedule.timepoints
        ),
    )


def to_data(schedule: Schedule) -> dict:
    """A schedule as JSON-ready data (the format `flask outreach schedules import` reads)."""
    spec = spec_of(schedule)
    return {
        "name": spec.name,
        "description": spec.description,
        "timepoints": [
            {
                "label": timepoint.label,
                "day": timepoint.offset_days,
                "window_days": timepoint.window_days,
                "reminder_days": list(timepoint.reminder_days),
                "instruments": list(timepoint.instrument_ids),
            }
            for timepoint in spec.timepoints
        ],
    }


def from_data(data) -> ScheduleSpec:
    """Read a schedule written in the format of `to_data`; ScheduleError when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("timepoints"), list):
        raise ScheduleError([_l("Expected an object with a name and a list of timepoints.")])
    timepoints = []
    for entry in data["timepoints"]:
        if not isinstance(entry, dict):
            raise ScheduleError([_l("Each timepoint must be an object.")])
        reminders = entry.get("reminder_days", [])
        instruments = entry.get("instruments", list(INSTRUMENT_IDS))
        if not isinstance(reminders, list) or not isinstance(instruments, list):
            raise ScheduleError([_l("reminder_days and instruments must be lists.")])
        timepoints.append(
            TimepointSpec(
                str(entry.get("label", "")),
                _integer(entry.get("day")),
                _integer(entry.get("window_days")),
                tuple(_integer(day) for day in reminders),
                tuple(str(item) for item in instruments),
            )
        )
    return ScheduleSpec(
        str(data.get("name", "")), str(data.get("description", "")), tuple(timepoints)
    )


def _integer(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
