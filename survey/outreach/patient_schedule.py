"""A patient's place in their schedule: enrolling, moving, pausing and withdrawing.

Every change here happens in the caller's transaction together with the invitations and
message rows it implies (a transactional outbox): nothing is sent before it is committed, and
nothing committed is ever forgotten by the dispatcher.

An invitation is *untouched* while nothing of it has reached the patient: still open, not
started, and none of its messages handed to the provider. Only untouched invitations move
when the index date, time zone or schedule changes; the others keep the dates the patient was
given.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from survey.domain.enrolment import EnrolmentError, check_index_date, check_language, enrol_patient
from survey.domain.episodes import check_label, current_episode
from survey.domain.invitations import create_invitation
from survey.domain.summaries import refresh_summary
from survey.localtime import add_local_days
from survey.models import (
    Episode,
    Invitation,
    InvitationStatus,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    Patient,
    PatientStatus,
    Schedule,
    Site,
    Timepoint,
    utcnow,
)
from survey.outreach.message_status import transition
from survey.outreach.policy import SendingRules, at_local
from survey.phones import InvalidPhoneNumber, normalise_mobile
from survey.timezones import InvalidTimezone, check_timezone
from survey.translatable import lazy_gettext as _l


@dataclass
class ScheduleChanges:
    """What a change did to the patient's invitations, by timepoint label."""

    created: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # windows already over: not scheduled


def enrol(
    db: Session,
    site: Site,
    reference: str,
    phone: str,
    language: str,
    timezone: str | None,
    index_date: date | None,
    schedule: Schedule | None,
    now: datetime,
    rules: SendingRules,
) -> tuple[Patient, ScheduleChanges]:
    """Enrol a patient and, with a schedule, create their invitations and messages."""
    if not phone:
        raise EnrolmentError(_l("A mobile number is required to send invitations."))
    if schedule is not None and index_date is None:
        raise EnrolmentError(_l("An index date is needed to follow a schedule."))
    patient = enrol_patient(db, site, reference, phone, language, timezone, index_date)
    patient.schedule = patient.episodes[0].schedule = schedule
    db.flush()
    return patient, sync_invitations(db, patient, now, rules)


def is_enrolled_as(
    patient: Patient,
    *,
    phone: str,
    language: str,
    timezone: str | None,
    index_date: date | None,
    schedule: Schedule | None,
) -> bool:
    """Whether the patient was enrolled with exactly these details: a second post of the same
    enrolment form finds the patient the first one made."""
    try:
        e164 = normalise_mobile(phone, patient.site.country) if phone else None
        zone = check_timezone(timezone or patient.site.timezone)
    except (InvalidPhoneNumber, InvalidTimezone):
        return False
    return (patient.phone, patient.language, patient.timezone, patient.index_date) == (
        e164,
        language,
        zone,
        index_date,
    ) and patient.schedule_id == (schedule.id if schedule else None)


CHANNELS = ("sms", "whatsapp")


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise EnrolmentError(_l("Messages go by SMS or WhatsApp."))
    return channel


def lock(db: Session, patient: Patient) -> None:
    """Re-read the patient under a row lock, so that two changes posted at once (a
    double-click) are made one after the other, the second seeing the first."""
    db.refresh(patient, with_for_update=True)


def update_details(
    db: Session,
    patient: Patient,
    *,
    phone: str,
    language: str,
    timezone: str,
    index_date: date | None,
    schedule: Schedule | None,
    now: datetime,
    rules: SendingRules,
    channel: str | None = None,
) -> tuple[dict, ScheduleChanges]:
    """Change a patient's contact details or schedule; returns {field: (old, new)} and what
    happened to their invitations."""
    lock(db, patient)
    if patient.status == PatientStatus.WITHDRAWN:
        raise EnrolmentError(_l("This patient has withdrawn; their details cannot change."))
    try:
        new = {
            "phone": normalise_mobile(phone, patient.site.country),
            "language": check_language(language, db),
            "timezone": check_timezone(timezone),
            "index_date": check_index_date(index_date),
            "schedule_id": schedule.id if schedule else None,
            "channel": check_channel(channel or patient.channel),
        }
    except (InvalidPhoneNumber, InvalidTimezone) as error:
        raise EnrolmentError(str(error)) from None
    if schedule is not None and index_date is None:
        raise EnrolmentError(_l("An index date is needed to follow a schedule."))
    changed = {
        name: (getattr(patient, name), value)
        for name, value in new.items()
        if getattr(patient, name) != value
    }
    for name, (_old, value) in changed.items():
        if name != "schedule_id":
            setattr(patient, name, value)
    patient.schedule = schedule
    # A corrected index date or another schedule is the current episode's (a new procedure
    # is a new episode: `start_episode`).
    episode = current_episode(db, patient)
    episode.index_date, episode.schedule = patient.index_date, schedule
    db.flush()
    moves = {"timezone", "index_date", "schedule_id"}
    changes = sync_invitations(db, patient, now, rules) if moves & changed.keys() else None
    return changed, changes or ScheduleChanges()


class EpisodeAlreadyStarted(EnrolmentError):
    """Another episode was started since the form was shown (a confirmation posted twice)."""


@dataclass
class NewEpisode:
    """What starting an episode did: the episode, the new episode's invitations, and what
    happened to the earlier episode's (timepoint labels)."""

    episode: Episode
    changes: ScheduleChanges
    cancelled: list[str] = field(default_factory=list)  # earlier invitations not yet sent
    cancelled_messages: int = 0  # earlier messages (including reminders) not sent


def start_episode(
    db: Session,
    patient: Patient,
    *,
    index_date: date | None,
    schedule: Schedule | None,
    label: str | None,
    keep_earlier: bool,
    now: datetime,
    rules: SendingRules,
    user=None,
    after: int | None = None,
) -> NewEpisode:
    """Start a new episode of care (a definitive repair after a seton, a recurrence): a new
    index date and schedule, with timepoints counted from the new date.

    The earlier episodes' pending messages are kept (`keep_earlier`: their invitations go on
    as planned) or cancelled: their invitations nothing has reached yet are cancelled, and the
    others lose their pending reminders (the patient may still answer by a link they have).

    `after`: the number of the episode the coordinator saw as current; when another episode
    has been started since (the same confirmation posted twice), `EpisodeAlreadyStarted`."""
    lock(db, patient)
    if patient.status == PatientStatus.WITHDRAWN:
        raise EnrolmentError(_l("This patient has withdrawn; their details cannot change."))
    if index_date is None:
        raise EnrolmentError(_l("A new episode needs its index date."))
    check_index_date(index_date)
    try:
        label = check_label(label)
    except ValueError as error:  # text.TextError
        raise EnrolmentError(str(error)) from None
    earlier = current_episode(db, patient)
    if after is not None and earlier.number != after:
        raise EpisodeAlreadyStarted(
            _l("Episode %(number)d has already been started.", number=earlier.number)
        )
    if earlier.index_date is not None and index_date < earlier.index_date:
        raise EnrolmentError(
            _l(
                "The new episode's index date cannot be before the current episode's "
                "(%(date)s). To correct the current index date, edit the patient.",
                date=earlier.index_date.isoformat(),
            )
        )
    result = NewEpisode(episode=earlier, changes=ScheduleChanges())
    if not keep_earlier:
        for invitation in db.scalars(
            select(Invitation)
            .where(
                # Every open invitation is an earlier episode's: the new one has none yet.
                Invitation.patient_id == patient.id,
                Invitation.status == InvitationStatus.OPEN,
            )
            .order_by(Invitation.opens_at, Invitation.id)
            .with_for_update()
        ):
            if not touched(db, invitation):
                invitation.status = InvitationStatus.CANCELLED
                result.cancelled.append(invitation.timepoint)
            result.cancelled_messages += cancel_pending(
                db, "new_episode", invitation_id=invitation.id, now=now
            )
    episode = Episode(
        patient=patient,
        number=earlier.number + 1,
        index_date=index_date,
        schedule=schedule,
        label=label,
        started_at=now,
        started_by_id=user.id if user is not None else None,
    )
    db.add(episode)
    patient.index_date, patient.schedule = index_date, schedule
    db.flush()
    result.episode = episode
    result.changes = sync_invitations(db, patient, now, rules)
    # The list shows the current episode's figures: none until its first answers.
    refresh_summary(db, patient.id)
    return result


def pending_messages(db: Session, patient: Patient) -> int:
    """How many of the patient's messages are waiting to be sent."""
    return db.scalar(
        select(func.count(Message.id)).where(
            Message.patient_id == patient.id, Message.status == MessageStatus.PENDING
        )
    )


def sync_invitations(
    db: Session, patient: Patient, now: datetime, rules: SendingRules
) -> ScheduleChanges:
    """Make the untouched invitations of the patient's current episode match their schedule,
    index date and zone (earlier episodes' invitations are left as they are)."""
    changes = ScheduleChanges()
    episode = current_episode(db, patient)
    scheduled = {
        invitation.timepoint_id: invitation
        for invitation in db.scalars(
            select(Invitation)
            .where(
                Invitation.patient_id == patient.id,
                Invitation.episode_id == episode.id,
                Invitation.timepoint_id.is_not(None),
                Invitation.status != InvitationStatus.CANCELLED,
            )
            # Locked, so no dispatcher claims their messages while they move (it skips them).
            .with_for_update()
        )
    }
    timepoints = patient.schedule.timepoints if patient.schedule and patient.index_date else []
    for timepoint in timepoints:
        invitation = scheduled.pop(timepoint.id, None)
        if invitation is not None and touched(db, invitation):
            continue
        opens_at, expires_at = timepoint_window(patient, timepoint, rules)
        if expires_at <= now:
            if invitation is not None:
                cancel_invitation(db, invitation, "window_closed")
            changes.closed.append(timepoint.label)
        elif invitation is None:
            invitation = create_invitation(
                db,
                patient,
                timepoint.label,
                timepoint.instrument_ids,
                opens_at,
                timepoint.window_days,
            )
            # The window's own closing time: the same as counting days from the opening,
            # unless the opening fell in a daylight-saving gap and was moved.
            invitation.timepoint_id, invitation.expires_at = timepoint.id, expires_at
            plan_messages(db, invitation, timepoint, now)
            changes.created.append(timepoint.label)
        elif (invitation.opens_at, invitation.expires_at) != (opens_at, expires_at):
            invitation.opens_at, invitation.expires_at = opens_at, expires_at
            _forget_unsent(db, invitation)
            plan_messages(db, invitation, timepoint, now)
            changes.moved.append(timepoint.label)
    for invitation in scheduled.values():  # timepoints the patient's schedule no longer has
        if not touched(db, invitation):
            cancel_invitation(db, invitation, "schedule_changed")
            changes.cancelled.append(invitation.timepoint)
    return changes


def timepoint_window(
    patient: Patient, timepoint: Timepoint, rules: SendingRules
) -> tuple[datetime, datetime]:
    """When a timepoint opens and closes for a patient: at the start of the sending hours on
    the patient's clock, on the timepoint's day and `window_days` calendar days later (see
    `survey.localtime`: a daylight-saving change in between moves neither)."""
    opens_on = patient.index_date + timedelta(days=timepoint.offset_days)
    closes_on = opens_on + timedelta(days=timepoint.window_days)
    return (
        at_local(opens_on, rules.send_from, patient.timezone),
        at_local(closes_on, rules.send_from, patient.timezone),
    )


def plan_messages(db: Session, invitation: Invitation, timepoint: Timepoint, now: datetime):
    """The invitation's message, due when it opens (or now, if it is open already), and its
    reminders, that many calendar days later at the same time on the patient's clock, dropped
    if they would fall after the window closes."""
    first = max(invitation.opens_at, now)
    zone = invitation.patient.timezone
    db.add(
        Message(
            patient=invitation.patient,
            invitation=invitation,
            kind=MessageKind.INVITATION,
            due_at=first,
        )
    )
    for days in timepoint.reminder_days:
        due_at = add_local_days(first, days, zone)
        if due_at < invitation.expires_at:
            db.add(
                Message(
                    patient=invitation.patient,
                    invitation=invitation,
                    kind=MessageKind.REMINDER,
                    due_at=due_at,
                )
            )


def _forget_unsent(db: Session, invitation: Invitation) -> None:
    """Remove the messages of an untouched invitation, to plan them again: none of them
    ever left, and the edit that moved them is in the audit trail."""
    unsent = select(Message.id).where(Message.invitation_id == invitation.id)
    db.execute(delete(MessageEvent).where(MessageEvent.message_id.in_(unsent)))
    db.execute(delete(Message).where(Message.invitation_id == invitation.id))


def touched(db: Session, invitation: Invitation) -> bool:
    """Whether anything of the invitation has reached the patient (see the module doc)."""
    if invitation.status != InvitationStatus.OPEN or invitation.started_at is not None:
        return True
    attempted = select(Message.id).where(
        Message.invitation_id == invitation.id, Message.attempts > 0
    )
    return db.scalar(attempted.limit(1)) is not None


def cancel_invitation(
    db: Session, invitation: Invitation, reason: str, now: datetime | None = None
) -> None:
    """Close an invitation and cancel the messages it has not sent yet."""
    invitation.status = InvitationStatus.CANCELLED
    cancel_pending(db, reason, invitation_id=invitation.id, now=now)


def cancel_pending(
    db: Session,
    reason: str,
    *,
    invitation_id=None,
    patient_id=None,
    now: datetime | None = None,
    source: str = "staff",
) -> int:
    """Cancel the pending messages of an invitation or a patient; returns how many."""
    # Locked: a message a dispatcher is claiming right now is left to the dispatcher.
    query = select(Message).where(Message.status == MessageStatus.PENDING).with_for_update()
    if invitation_id is not None:
        query = query.where(Message.invitation_id == invitation_id)
    if patient_id is not None:
        query = query.where(Message.patient_id == patient_id)
    messages = db.scalars(query).all()
    for message in messages:
        transition(
            message, MessageStatus.CANCELLED, at=now or utcnow(), reason=reason, source=source
        )
    return len(messages)


def pause(patient: Patient) -> None:
    """Hold every message until the follow-up resumes; the schedule is kept."""
    if patient.status != PatientStatus.ACTIVE:
        raise EnrolmentError(_l("Only a patient in active follow-up can be paused."))
    patient.status = PatientStatus.PAUSED


def resume(patient: Patient) -> None:
    """Let held messages go again (those whose invitation closed meanwhile are cancelled)."""
    if patient.status != PatientStatus.PAUSED:
        raise EnrolmentError(_l("Only a paused patient can be resumed."))
    patient.status = PatientStatus.ACTIVE


def withdraw(db: Session, patient: Patient) -> int:
    """End the follow-up: open invitations close and nothing more is sent. Returns how many
    messages were cancelled. Answers already given are kept."""
    lock(db, patient)
    if patient.status == PatientStatus.WITHDRAWN:
        raise EnrolmentError(_l("This patient has already withdrawn."))
    patient.status = PatientStatus.WITHDRAWN
    for invitation in db.scalars(
        select(Invitation)
        .where(Invitation.patient_id == patient.id, Invitation.status == InvitationStatus.OPEN)
        .with_for_update()
    ):
        invitation.status = InvitationStatus.CANCELLED
    return cancel_pending(db, "withdrawn", patient_id=patient.id)
