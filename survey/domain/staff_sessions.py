"""Server-side staff sessions: they expire after inactivity and can be ended from elsewhere."""

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from survey.characters import scrub
from survey.models import StaffSession, User, utcnow

# Writing last_seen_at on every request would turn each page view into a write.
TOUCH_INTERVAL = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    db: Session,
    user: User,
    now: datetime | None = None,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    sign_in: bool = True,
) -> str:
    """Open a session for a user who has just proved who they are; returns its secret token.

    `sign_in=False` when a session is only renewed (after a password change)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.add(
        StaffSession(
            user=user,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            remote_addr=(remote_addr or "")[:45] or None,
            # Shown to the user on their account page: what a browser sends is made readable.
            user_agent=scrub(user_agent, 200),
        )
    )
    if sign_in:
        user.last_login_at = now
    return token


@functools.cache
def signed_in_query():
    """The session for a token hash with its user and the user's sites: one statement on every
    staff request, where loading each lazily was three (site_ids reads the sites on most
    pages). Built once per process."""
    return (
        select(StaffSession)
        .where(StaffSession.token_hash == bindparam("token_hash"))
        .options(joinedload(StaffSession.user).joinedload(User.sites))
    )


def find_session(
    db: Session, token: str, idle_limit: timedelta, now: datetime | None = None
) -> tuple[StaffSession | None, str | None]:
    """The live session for a token, or (None, why) where why is "expired" or "ended"."""
    now = now or utcnow()
    found = db.execute(signed_in_query(), {"token_hash": token_hash(token)})
    staff_session = found.unique().scalar_one_or_none()  # one row per site of the user
    if staff_session is None or staff_session.ended_at is not None:
        return None, "ended"
    if not staff_session.user.active:
        end_session(staff_session, "user disabled", now)
        return None, "ended"
    if now - staff_session.last_seen_at > idle_limit:
        end_session(staff_session, "expired", now)
        return None, "expired"
    if now - staff_session.last_seen_at > TOUCH_INTERVAL:
        staff_session.last_seen_at = now
    return staff_session, None


def end_session(staff_session: StaffSession, because: str, now: datetime | None = None) -> None:
    staff_session.ended_at = now or utcnow()
    staff_session.ended_because = because


def end_all_sessions(
    db: Session, user: User, because: str, keep: StaffSession | None = None
) -> int:
    """End every open session of a user (password changed, account disabled), except `keep`;
    returns how many were ended."""
    query = (
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_because=because)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep.id)
    return db.execute(query, execution_options={"synchronize_session": False}).rowcount


def open_sessions(db: Session, user: User) -> list[StaffSession]:
    """The user's sessions that have not ended (some may be past the idle limit), newest first."""
    return list(
        db.scalars(
            select(StaffSession)
            .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
            .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
        )
    )
