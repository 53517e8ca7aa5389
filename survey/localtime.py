"""Planned times on the patient's clock.

Every time the follow-up promises a patient (a timepoint opening at 09:00, closing at 09:00 on
its last day, a reminder three days after the invitation at the same time of day) is worked out
as a local calendar date and wall-clock time in the patient's IANA zone, and only then turned
into the UTC moment that is stored. Adding days is calendar arithmetic on the local date, never
a fixed number of hours, so a daylight-saving change between two planned times moves neither.

Twice a year a zone with daylight saving has local times that do not exist (the clocks jump
forward: 02:30 on the last Sunday of March in Madrid) or that happen twice (the clocks go back:
02:30 on the last Sunday of October). One rule settles both: **a planned local time is the first
moment at which the patient's clock shows that time or a later one.**

- In a gap, that is the moment the clocks jump: 02:30 in Madrid on 2027-03-28 is planned for
  03:00 CEST (01:00 UTC), the first valid instant after the gap.
- In an overlap, it is the first occurrence (Python's `fold=0`): 02:30 in Madrid on
  2026-10-25 is planned for 02:30 CEST (00:30 UTC), not an hour later at 02:30 CET.

Either way a planned time is never earlier than the clock time promised, never skips a day,
and keeps its order among other planned times.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_moment(day: date, clock: time, zone: str) -> datetime:
    """The UTC moment at which the clock in `zone` first shows `clock` on `day` (or, when a
    daylight-saving gap skips that time, the moment the clocks jump past it)."""
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, clock.replace(tzinfo=None, fold=0))
    first = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the first of a repeated time
    if _wall(first, tz) == wall:
        return first
    return _gap_end(wall, tz)


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    """The local clock reading of a moment, without its zone."""
    return moment.astimezone(tz).replace(tzinfo=None, fold=0)


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first moment after the gap that swallows the nonexistent local time `wall`.

    Read with the offset in force after the gap, `wall` falls before the jump; read with the
    offset before it, after the jump. The jump lies in between; zoneinfo does not expose its
    transitions, so it is found by halving that interval down to the second (transitions are
    on whole seconds)."""
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC).replace(microsecond=0)
    after = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if before > after:  # pragma: no cover (PEP 495: fold=1 reads a gap with the later offset)
        before, after = after, before
    low, high = 0, int((after - before).total_seconds())
    # Invariant: the clock at before+low still reads earlier than `wall`; at before+high not.
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(before + timedelta(seconds=middle), tz) < wall:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def local_wall(moment: datetime, zone: str) -> datetime:
    """The date and time the patient's clock shows at `moment` (naive: a clock reading)."""
    return _wall(moment, ZoneInfo(zone))


def add_local_days(moment: datetime, days: int, zone: str) -> datetime:
    """The same clock time `days` calendar days after `moment`, on the patient's clock.

    Three days after 2027-03-26 09:00 CET is 2027-03-29 09:00 CEST: 71 hours later, not 72."""
    wall = local_wall(moment, zone) + timedelta(days=days)
    return local_moment(wall.date(), wall.time(), zone)


def local_date(moment: datetime, zone: str) -> date:
    """The calendar date of `moment` where the patient lives."""
    return moment.astimezone(ZoneInfo(zone)).date()


def format_local(moment: datetime | None, zone: str, with_zone: bool = True) -> str:
    """A moment as the clock reads where the patient lives, e.g. 2026-03-02 09:00 CET."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    text = f"{local:%Y-%m-%d %H:%M}"
    return f"{text} {local.tzname()}" if with_zone else text
