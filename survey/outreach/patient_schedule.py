"""A patient's place in their schedule: enrolling, changing their details, starting a new
episode, pausing, resuming and withdrawing.

Every change here happens in the caller's transaction together with the invitations and
message rows it implies (a transactional outbox): nothing is sent before it is committed, and
nothing committed is ever forgotten by the dispatcher. What a change does to the invitations
and their messages (planning them from the schedule, moving the untouched ones, cancelling
what has not been sent) is `invitation_messages.py`'s.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.enrolment import EnrolmentError, check_index_date, check_language, enrol_patient
from survey.domain.episodes import check_label, current_episode
from survey.domain.summaries import refresh_summary
from survey.models import (
    Episode,
    Invitation,
    InvitationStatus,
    Patient,
    PatientStatus,
    Schedule,
    Site,
)
from survey.outreach.invitation_messages import (
    ScheduleChanges,
    cancel_pending,
    sync_invitations,
    touched,
)
from survey.outreach.policy import SendingRules
from survey.phones import InvalidPhoneNumber, normalise_mobile
from survey.timezones import InvalidTimezone, check_timezone
from survey.translatable import lazy_gettext as _l


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
