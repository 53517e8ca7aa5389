"""Due messages through the dispatcher, a batch at a time (dispatch.py runs the passes):
claim those that may go, or make them wait, and send them; send_outcomes.py records what the
provider answered.

A claim locks up to a batch of due messages with their patients and invitations (`FOR UPDATE
... SKIP LOCKED` on PostgreSQL), so two dispatchers never claim the same message nor count the
same patient's limits at once. The claimed messages are committed as `sending`, with their
links minted, just before their provider calls; their outcomes are recorded with the next
batch's claim.

Each step is as few statements as its guarantees allow, whatever the batch's size
(docs/performance.md, section 4): one locking query of columns reads the batch (no ORM
objects); on PostgreSQL one statement locks its numbers, one query reads what the limits
count, judged message by message in the batch's order as one-by-one claims would be (each
claim counting towards the next), and one statement marks the claimed messages `sending`,
writes their events and mints their links (`message_status.Step.run_many`). Each site's name
and each text's template are read once per pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from survey.domain.invitations import link_url, new_link, opens_before
from survey.models import (
    ChannelAlarm,
    Episode,
    Invitation,
    InvitationLink,
    InvitationStatus,
    Message,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    SmsSender,
)
from survey.outreach.backends import Outcome, OutgoingSms, SendResult, SmsBackend
from survey.outreach.dispatch_report import DispatchReport
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.message_status import Step
from survey.outreach.policy import (
    QUIET_HOURS,
    SendingRules,
    Sent,
    limit_hold,
    next_allowed_time,
    sending_time_left,
    sends_since,
    week_start,
)
from survey.outreach.texts import fill, link_text_kind, neutral_name, template

# The dispatcher's logger, as before this module was split from dispatch.py.
logger = logging.getLogger("survey.outreach.dispatch")
WAITING_FOR_INVITATION = "waiting_for_invitation"
# A text that could not reach the phone this long before quiet hours start waits for the
# morning instead: sent now, it would most likely expire on the way.
LAST_CALL = timedelta(minutes=5)
# A reminder's invitation text that has not gone yet (or may not have): the reminder waits.
NOT_GONE = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.REVIEW)


@dataclass(frozen=True)
class Claim:
    message_id: int
    attempt: int
    sms: OutgoingSms


@dataclass
class PassCache:
    """What one sender reads once per pass: each site's chosen SMS name, each text's
    template in each language, each language's neutral name."""

    names: dict[int, str | None] = field(default_factory=dict)
    templates: dict[tuple[str, str], str] = field(default_factory=dict)
    neutral: dict[str, str] = field(default_factory=dict)

    def sender_name(self, db: Session, site_id: int, language: str) -> str:
        """The site's chosen name, else (never the site's own name) a neutral default."""
        if site_id not in self.names:
            self.names[site_id] = db.scalar(
                select(SmsSender.name).where(SmsSender.site_id == site_id)
            )
        if (name := self.names[site_id]) is not None:
            return name
        if language not in self.neutral:
            self.neutral[language] = neutral_name(language)
        return self.neutral[language]

    def template(self, kind: str, language: str) -> str:
        if (kind, language) not in self.templates:
            self.templates[kind, language] = template(kind, language)
        return self.templates[kind, language]


def not_needed(invitation: Invitation, now: datetime) -> str | None:
    """Why a pending message of this invitation is no longer needed, or None."""
    return _not_needed(invitation.status, invitation.expires_at, now)


def _not_needed(status: str, expires_at: datetime, now: datetime) -> str | None:
    if status == InvitationStatus.COMPLETED:
        return "completed"
    if status == InvitationStatus.CANCELLED:
        return "invitation_cancelled"
    if now >= expires_at:
        return "expired"
    return None


_first = aliased(Message)
# For a reminder: when its invitation's own text is due, while that text has not gone.
_INVITATION_NOT_GONE = (
    select(_first.due_at)
    .where(
        _first.invitation_id == Message.invitation_id,
        _first.kind == MessageKind.INVITATION,
        _first.status.in_(NOT_GONE),
        _first.resolved_at.is_(None),
    )
    .limit(1)
    .scalar_subquery()
)


# The next due messages that may be claimed (at `now`, `size` of them at most), with all a
# claim reads, locked.
NEXT_DUE = (
    select(
        Message.id,
        Message.kind,
        Message.attempts,
        Message.invitation_id,
        Patient.id.label("patient_id"),
        Patient.site_id,
        Patient.phone,
        Patient.language,
        Patient.timezone,
        Patient.channel,
        Patient.index_date.label("patient_index_date"),
        Invitation.status.label("invitation_status"),
        Invitation.expires_at,
        Invitation.opens_at,
        Invitation.timepoint,
        Invitation.episode_id,
        Episode.index_date.label("episode_index_date"),
        _INVITATION_NOT_GONE.label("invitation_due_at"),
    )
    .join(Patient, Message.patient_id == Patient.id)
    .join(Invitation, Message.invitation_id == Invitation.id)
    .outerjoin(Episode, Invitation.episode_id == Episode.id)
    .where(
        Message.status == MessageStatus.PENDING,
        Message.due_at <= bindparam("now"),
        Patient.status == PatientStatus.ACTIVE,
        Patient.opted_out_at.is_(None),
        # A paused channel claims nothing: its messages wait, unfailed, for the resume.
        ~exists().where(
            ChannelAlarm.site_id == Patient.site_id, ChannelAlarm.channel == Patient.channel
        ),
    )
    .order_by(Message.due_at, Message.id)
    # The batch's size written into the SQL (one prepared statement per size): with LIMIT a
    # parameter PostgreSQL planned the query afresh at every claim, ~1 ms of its CPU.
    .limit(bindparam("size", type_=Integer, literal_execute=True))
    .with_for_update(skip_locked=True, of=(Message, Patient, Invitation))
)
# The statements each claim runs, built once (building and hashing them for every message
# cost more than the send itself).
THIS = Message.id == bindparam("message_id")
# The numbers of a batch's claims, each locked once, in one order (the lock keys' order):
# two dispatchers locking numbers they share wait for each other instead of deadlocking.
_NUMBER_KEYS = (
    select(func.hashtext(func.unnest(bindparam("phones", type_=ARRAY(String)))).label("key"))
    .distinct()
    .order_by("key")
    .subquery()
)
LOCK_NUMBERS = select(func.pg_advisory_xact_lock(_NUMBER_KEYS.c.key)).order_by(_NUMBER_KEYS.c.key)
WAIT = (
    update(Message.__table__)
    .where(THIS)
    .values(due_at=bindparam("due_at"), wait_reason=bindparam("why"))
)
CANCEL = Step(MessageStatus.CANCELLED, where=THIS, only_from=(MessageStatus.PENDING,))
NO_NUMBER = Step(MessageStatus.FAILED, where=THIS, only_from=(MessageStatus.PENDING,))
CLAIM = Step(
    MessageStatus.SENDING,
    where=THIS,
    values=("language", "phone"),
    # A SELECT, not VALUES: run for a batch, each link is a row of the batch's parameters.
    also=insert(InvitationLink.__table__).from_select(
        ["invitation_id", "token_hash", "created_at"],
        select(
            # Named apart from the messages' columns: a parameter named as one would set it.
            bindparam("link_invitation_id", type_=InvitationLink.invitation_id.type),
            bindparam("link_token_hash", type_=InvitationLink.token_hash.type),
            bindparam("link_created_at", type_=InvitationLink.created_at.type),
        ),
    ),
)


def claim_batch(
    db: Session,
    now: datetime,
    size: int,
    settings: DispatchSettings,
    report: DispatchReport,
    cache: PassCache | None = None,
) -> tuple[int, list[Claim]]:
    """Claim up to `size` due messages in a transaction of their own, each judged at `now` in
    the order they are due: how many were found, and the claims that may go now (a message
    that must wait, or is not needed, is dealt with here).

    Committed just before their provider calls: a dispatcher killed mid-send leaves only this
    batch's messages (at most `size`) in `sending` (then review), never the ones it had not
    reached yet."""
    rows = db.execute(NEXT_DUE, {"now": now, "size": size}).all()
    waits, candidates = [], []
    for row in rows:
        if reason := _not_needed(row.invitation_status, row.expires_at, now):
            CANCEL.run(db, at=now, reason=reason, message_id=row.id)
            report.cancelled += 1
        elif not row.phone:
            NO_NUMBER.run(db, at=now, reason="no_number", message_id=row.id)
            report.failed += 1
        elif wait := _wait(row, now, settings.rules):
            waits.append({"message_id": row.id, "due_at": wait[0], "why": wait[1]})
        else:
            candidates.append(row)
    going = _within_limits(db, candidates, now, settings.rules, waits)
    if waits:
        db.execute(WAIT, waits)
        report.waiting += len(waits)
    claims = _claim(db, going, settings, now, cache or PassCache()) if going else []
    db.commit()
    return len(rows), claims


def _wait(row, now: datetime, rules: SendingRules) -> tuple[datetime, str] | None:
    """When a due message may go instead of now, and why, its limits aside; None if now."""
    if row.kind == MessageKind.REMINDER and row.invitation_due_at is not None:
        # A reminder never arrives before the invitation it recalls.
        return max(row.invitation_due_at, now) + timedelta(hours=1), WAITING_FOR_INVITATION
    allowed = next_allowed_time(now, row.timezone, rules)
    if allowed > now:
        return allowed, QUIET_HOURS
    if sending_time_left(now, row.timezone, rules) < LAST_CALL:
        return next_allowed_time(now + LAST_CALL, row.timezone, rules), QUIET_HOURS
    return None


def _within_limits(db: Session, rows: list, now: datetime, rules: SendingRules, waits: list):
    """The rows whose patient and number are under their limits, judged in order, each claim
    counting towards the next as it would once committed; the others are added to `waits`."""
    if not rows or (not rules.max_per_day and not rules.max_per_week):
        return rows
    if db.get_bind().dialect.name == "postgresql":
        # Two patients who share a phone are two rows: lock the numbers themselves, so that two
        # senders never both find one under its limits (released at this claim's commit).
        # Their own statement: the count below must see what the locks' holders committed.
        db.execute(LOCK_NUMBERS, {"phones": sorted({row.phone for row in rows})})
    sent = sends_since(
        db,
        {row.patient_id for row in rows},
        {row.phone for row in rows},
        min(week_start(now, row.timezone) for row in rows),
    )
    going = []
    for row in rows:
        if held := limit_hold(sent, row.patient_id, row.phone, row.timezone, now, rules):
            day_starts, reason = held
            waits.append(
                {
                    "message_id": row.id,
                    "due_at": next_allowed_time(day_starts, row.timezone, rules),
                    "why": reason,
                }
            )
        else:
            going.append(row)
            sent.append(Sent(now, row.patient_id, row.phone))
    return going


def _claim(db: Session, rows, settings: DispatchSettings, claimed_at: datetime, cache: PassCache):
    """Mark messages as being sent and mint the links they carry, in one statement (in this
    transaction); their texts, rendered in memory only."""
    links = [new_link(row.invitation_id) for row in rows]
    moved = CLAIM.run_many(
        db,
        [
            {
                "message_id": row.id,
                "language": row.language,
                "phone": row.phone,
                **{f"link_{column}": value for column, value in link_row.items()},
            }
            for row, (_token, link_row) in zip(rows, links, strict=True)
        ],
        at=claimed_at,
    )
    if sorted(moved) != sorted(row.id for row in rows):  # locked by this claim: nothing
        raise RuntimeError(
            f"messages {sorted({row.id for row in rows} - set(moved))} could not be claimed"
        )
    return [
        _text(db, row, token, settings, claimed_at, cache)
        for row, (token, _link_row) in zip(rows, links, strict=True)
    ]


def _text(db: Session, row, token: str, settings, claimed_at: datetime, cache: PassCache):
    """The claim of one message: its text and where it goes."""
    index_date = row.episode_index_date if row.episode_id else row.patient_index_date
    kind = link_text_kind(
        reminder=row.kind == MessageKind.REMINDER,
        before_treatment=opens_before(row.opens_at, row.timezone, index_date, row.timepoint),
    )
    name = cache.sender_name(db, row.site_id, row.language)
    link = link_url(settings.public_url, token)
    body = fill(cache.template(kind, row.language), row.language, name, link)
    left = sending_time_left(claimed_at, row.timezone, settings.rules)
    sms = OutgoingSms(
        row.id,
        row.site_id,
        row.phone,
        body,
        settings.status_callback(row.id),
        validity_seconds=max(1, int(left.total_seconds())),
        channel=row.channel or "sms",
        variables={"1": name, "2": link} if row.channel == "whatsapp" else None,
    )
    return Claim(row.id, row.attempts + 1, sms)


def send_claim(backend: SmsBackend, claim: Claim) -> SendResult:
    """The provider call for a claimed message; a backend's surprise is an unknown outcome."""
    try:
        return backend.send(claim.sms)
    except Exception as error:  # a bug or surprise after the claim: it may have gone
        logger.error("SMS backend failed on message %s: %s", claim.message_id, type(error).__name__)
        return SendResult(Outcome.UNKNOWN, reason="backend_error")
