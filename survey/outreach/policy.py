"""When a patient may be sent a message: quiet hours and per-patient limits, in their time zone.

Quiet hours: nothing is sent before SMS_SEND_FROM or at or after SMS_SEND_UNTIL, local time.
Limits, modelled on the conditions US rules set for healthcare texts sent without prior
written consent: at most SMS_MAX_PER_DAY messages in one local calendar day and at most
SMS_MAX_PER_WEEK in the seven local days ending today (0 turns a limit off). They hold for
each patient and for each phone number (E.164), across patients and sites: a parent who
answers for two children on one phone gets no more texts than one patient would. Every message
counts once it has been handed to the provider, whether delivered or not; one refused by the
provider does not. Replies to a patient's HELP do not count: the patient asked for them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from survey.localtime import local_moment
from survey.models import Message, MessageStatus
from survey.settings import settings_of

# Statuses of messages that reached (or may have reached) the provider.
COUNTED = (
    MessageStatus.SENDING,
    MessageStatus.QUEUED,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.REVIEW,
)
# What the limits count: the sends since a moment to some patients or their numbers (the
# number each went to), one query for a whole batch of claims. Built once: the dispatcher
# asks for every batch.
SENT_SINCE = select(Message.sent_at, Message.patient_id, Message.phone).where(
    Message.patient_id.in_(bindparam("patient_ids", expanding=True))
    | Message.phone.in_(bindparam("phones", expanding=True)),
    Message.status.in_(COUNTED),
    Message.sent_at >= bindparam("since"),
)
QUIET_HOURS = "quiet_hours"
DAILY_LIMIT = "daily_limit"
WEEKLY_LIMIT = "weekly_limit"
PHONE_DAILY_LIMIT = "phone_daily_limit"  # another patient with the same number had one
PHONE_WEEKLY_LIMIT = "phone_weekly_limit"


def parse_clock(text) -> time:
    """A local time of day written HH:MM."""
    try:
        hours, minutes = str(text).strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{str(text)[:16]!r} is not a time of day written HH:MM.") from None


@dataclass(frozen=True)
class SendingRules:
    send_from: time = time(9)
    send_until: time = time(20)
    max_per_day: int = 1
    max_per_week: int = 3

    def __post_init__(self) -> None:
        if self.send_from >= self.send_until:
            raise ValueError("SMS_SEND_FROM must be earlier in the day than SMS_SEND_UNTIL.")
        if self.max_per_day < 0 or self.max_per_week < 0:
            raise ValueError("Message limits cannot be negative.")

    @classmethod
    def from_config(cls, config) -> "SendingRules":
        return cls(
            parse_clock(settings_of(config).sms_send_from),
            parse_clock(settings_of(config).sms_send_until),
            settings_of(config).sms_max_per_day,
            settings_of(config).sms_max_per_week,
        )


def at_local(day: date, clock: time, zone: str) -> datetime:
    """The UTC moment of a local date and time in a zone; a time that a daylight-saving
    change skips or repeats is settled as `survey.localtime` says."""
    return local_moment(day, clock, zone)


def local_date(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def next_allowed_time(moment: datetime, zone: str, rules: SendingRules) -> datetime:
    """`moment` itself if it is outside quiet hours in the zone, else when they end."""
    local = moment.astimezone(ZoneInfo(zone))
    if rules.send_from <= local.time() < rules.send_until:
        return moment
    day = local.date()
    if local.time() >= rules.send_until:
        day += timedelta(days=1)
    return at_local(day, rules.send_from, zone)


def sending_time_left(moment: datetime, zone: str, rules: SendingRules) -> timedelta:
    """How long until quiet hours start in the zone (zero inside them): a text sent at
    `moment` must reach the phone within this, or expire."""
    local = moment.astimezone(ZoneInfo(zone))
    if not rules.send_from <= local.time() < rules.send_until:
        return timedelta(0)
    return max(at_local(local.date(), rules.send_until, zone) - moment, timedelta(0))


class Sent(NamedTuple):
    """A message that counts towards the limits: when it went, to whom, to which number."""

    sent_at: datetime
    patient_id: int
    phone: str | None


def week_start(now: datetime, zone: str) -> datetime:
    """The start of the seven local days ending today: the oldest send the limits count."""
    return at_local(local_date(now, zone) - timedelta(days=6), time(0), zone)


def sends_since(
    db: Session, patient_ids: Iterable[int], phones: Iterable[str], since: datetime
) -> list[Sent]:
    """What counts towards the limits of these patients and numbers, sent since `since`."""
    rows = db.execute(
        SENT_SINCE, {"patient_ids": list(patient_ids), "phones": list(phones), "since": since}
    )
    return [Sent(*row) for row in rows]


def limit_wait(
    db: Session,
    patient_id: int,
    phone: str | None,
    zone: str,
    now: datetime,
    rules: SendingRules,
) -> tuple[datetime, str] | None:
    """None if the patient, and their number, may be sent one more message now; else the
    start of the first local day on which they may, and which limit holds it back."""
    if not rules.max_per_day and not rules.max_per_week:
        return None
    sent = sends_since(db, [patient_id], [phone] if phone else [], week_start(now, zone))
    return limit_hold(sent, patient_id, phone, zone, now, rules)


def limit_hold(
    sent: list[Sent],
    patient_id: int,
    phone: str | None,
    zone: str,
    now: datetime,
    rules: SendingRules,
) -> tuple[datetime, str] | None:
    """`limit_wait` judged from sends already read (`sends_since`; those of other patients
    and numbers are left out here), so that one query serves a batch of claims."""
    if not rules.max_per_day and not rules.max_per_week:
        return None
    today = local_date(now, zone)
    own = [local_date(s.sent_at, zone) for s in sent if s.patient_id == patient_id]
    shared = [
        local_date(s.sent_at, zone)
        for s in sent
        if s.patient_id == patient_id or (phone and s.phone == phone)
    ]
    first_reason = None
    for ahead in range(8):
        day = today + timedelta(days=ahead)
        reason = _held(own, day, rules, DAILY_LIMIT, WEEKLY_LIMIT) or _held(
            shared, day, rules, PHONE_DAILY_LIMIT, PHONE_WEEKLY_LIMIT
        )
        if reason is None:
            return None if ahead == 0 else (at_local(day, time(0), zone), first_reason)
        first_reason = first_reason or reason
    raise AssertionError("a week without sends always frees the limits")  # pragma: no cover


def _held(sent: list[date], day: date, rules: SendingRules, daily: str, weekly: str):
    on_day = sum(1 for sent_day in sent if sent_day == day)
    in_week = sum(1 for sent_day in sent if day - timedelta(days=6) <= sent_day <= day)
    if rules.max_per_day and on_day >= rules.max_per_day:
        return daily
    if rules.max_per_week and in_week >= rules.max_per_week:
        return weekly
    return None
