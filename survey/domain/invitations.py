"""Invitations and their private links.

A link carries a random token of 128 bits; only its SHA-256 hash is stored, so a copy of the
database cannot be turned into working links. Each SMS mints its own link."""

import hashlib
import re
import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey import text
from survey.instruments import INSTRUMENT_IDS
from survey.localtime import add_local_days
from survey.models import Invitation, InvitationLink, Patient, utcnow

DEFAULT_INSTRUMENTS = INSTRUMENT_IDS
BASELINE_TIMEPOINT = "baseline"
DEFAULT_WINDOW_DAYS = 14
TOKEN_BYTES = 16  # 128 bits; 22 characters in base64url, short enough for an SMS
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_invitation(
    db: Session,
    patient: Patient,
    timepoint: str,
    instrument_ids: tuple[str, ...] | list[str] = DEFAULT_INSTRUMENTS,
    opens_at: datetime | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> Invitation:
    """An invitation for one timepoint, open from `opens_at` until the same time on the
    patient's clock `window_days` calendar days later. Raises text.TextError for a timepoint
    name that breaks the text policy."""
    from survey.instruments import get_instrument

    timepoint = text.INVITATION_TIMEPOINT.clean(timepoint)

    for instrument_id in instrument_ids:
        get_instrument(instrument_id)  # refuses unknown ids before anything is stored
    from survey.domain.episodes import current_episode

    opens_at = opens_at or utcnow()
    invitation = Invitation(
        patient=patient,
        episode=current_episode(db, patient),
        timepoint=timepoint,
        instrument_ids=list(instrument_ids),
        opens_at=opens_at,
        expires_at=add_local_days(opens_at, window_days, patient.timezone),
    )
    db.add(invitation)
    return invitation


def mint_link(db: Session, invitation: Invitation) -> str:
    """A new private token for the invitation; the caller puts it in a message, never a log."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.add(InvitationLink(invitation=invitation, token_hash=token_hash(token)))
    return token


def link_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}"


def find_link(db: Session, token: str) -> InvitationLink | None:
    """The link a token opens, or None for anything malformed or unknown."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    return db.scalar(select(InvitationLink).where(InvitationLink.token_hash == token_hash(token)))


def asks_before_treatment(invitation: Invitation) -> bool:
    """Whether the invitation asks how the patient is before their treatment: it opens on a
    day (in the patient's time zone) before its episode's index date, or, for a patient without an
    index date, it is the baseline timepoint. Every other invitation asks about the time
    since the treatment."""
    patient = invitation.patient
    # The index date of the invitation's own episode of care (a staged treatment has several).
    index_date = invitation.episode.index_date if invitation.episode else patient.index_date
    return opens_before(invitation.opens_at, patient.timezone, index_date, invitation.timepoint)


def opens_before(opens_at: datetime, zone: str, index_date: date | None, timepoint: str) -> bool:
    """`asks_before_treatment` on the values it reads (the dispatcher has them as columns)."""
    if index_date is None:
        return timepoint == BASELINE_TIMEPOINT
    return opens_at.astimezone(ZoneInfo(zone)).date() < index_date


def new_link(invitation_id: int) -> tuple[str, dict]:
    """A fresh token for an invitation and the link row that stores its hash (`mint_link`
    for a caller that inserts rows itself)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, {
        "invitation_id": invitation_id,
        "token_hash": token_hash(token),
        "created_at": utcnow(),
    }
