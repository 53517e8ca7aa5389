"""Episodes of care: finding a patient's current episode and naming episodes.

A patient enrolled before episodes existed, or written by code that knows nothing of them
(bulk-written benchmark data), has no episode row until something is scheduled for them:
`current_episode` then makes their first one from their index date and schedule and gives it
their invitations, so that every later change knows which invitations are the current
episode's. Pages that only read never write: they treat invitations without an episode as
the first episode's (`episode_key`).
"""

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from survey import text
from survey.models import Episode, Invitation, Patient, utcnow

# The short names coordinators choose from (stored as these keys), or their own words.
LABELS = {
    "seton": _l("Seton"),
    "repair": _l("Definitive repair"),
    "recurrence": _l("Recurrence"),
}


def label_text(label: str | None) -> str:
    """An episode's name as staff read it: a fixed name in their language, else as typed."""
    if not label:
        return ""
    return str(LABELS[label]) if label in LABELS else label


def episode_name(episode) -> str:
    """An episode as staff read it: "Episode 2 (Definitive repair), index date 2 Mar 2026"
    (`episode` is an Episode or a clinic EpisodeCourse: number, label, index_date)."""
    name = (
        _l("Episode %(number)d (%(label)s)", number=episode.number, label=label_text(episode.label))
        if episode.label
        else _l("Episode %(number)d", number=episode.number)
    )
    if episode.index_date is None:
        return str(name)
    return str(
        _l(
            "%(episode)s, index date %(date)s",
            episode=name,
            date=format_date(episode.index_date, "medium"),
        )
    )


def check_label(label: str | None) -> str | None:
    """A fixed key, or free text (at most 60 characters, the text policy); None for none."""
    if label in LABELS:
        return label
    return text.EPISODE_LABEL.clean(label) or None


def current_episode(db: Session, patient: Patient) -> Episode:
    """The patient's latest episode, made (number 1, from their index date and schedule,
    holding their invitations so far) if they have none yet."""
    if patient.episodes:
        return patient.episodes[-1]
    episode = Episode(
        patient=patient,
        number=1,
        index_date=patient.index_date,
        schedule=patient.schedule,
        started_at=patient.created_at or utcnow(),
    )
    db.add(episode)
    db.flush()
    db.execute(
        update(Invitation)
        .where(Invitation.patient_id == patient.id, Invitation.episode_id.is_(None))
        .values(episode_id=episode.id)
        .execution_options(synchronize_session="fetch")
    )
    return episode


def episode_key(invitation: Invitation, episodes: list[Episode]) -> int | None:
    """The id of the episode an invitation belongs to, reading none as the first."""
    if invitation.episode_id is not None:
        return invitation.episode_id
    return episodes[0].id if episodes else None


def invitations_by_episode(patient: Patient) -> list[tuple[Episode | None, list[Invitation]]]:
    """The patient's invitations per episode, newest episode first (a patient without
    episode rows: one group, None)."""
    episodes = list(patient.episodes)
    groups: dict[int | None, list[Invitation]] = {episode.id: [] for episode in episodes}
    for invitation in patient.invitations:
        groups.setdefault(episode_key(invitation, episodes), []).append(invitation)
    if not episodes:
        return [(None, groups.get(None, []))]
    return [(episode, groups[episode.id]) for episode in reversed(episodes)]
