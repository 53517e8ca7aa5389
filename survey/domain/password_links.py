"""One-time links to set a staff account's password, which an admin hands over in person or
by the hospital's own mail (the service sends no email).

A link is a random token (256 bits) whose SHA-256 alone is stored, so the database never
holds a working link; it is shown to the admin once, works once, and expires after
LINK_LIFETIME. Issuing a new link for an account voids its earlier unused ones, so only the
latest link handed over can work. Setting the password through a link ends every session of
the account, as any change of password does."""

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from survey.domain.staff_sessions import end_all_sessions
from survey.models import PasswordLink, User, utcnow
from survey.passwords import hash_password

LINK_LIFETIME = timedelta(hours=72)
ACTIVATE, RESET = "activate", "reset"
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unusable_password_hash() -> str:
    """For an account made in the web: a hash of a random secret nobody knows, so that it
    cannot sign in until its password is set through its link."""
    return hash_password(secrets.token_urlsafe(32))


def issue(
    db: Session, user: User, purpose: str, by: User | None, now: datetime | None = None
) -> str:
    """A new link's token for `user` (to be shown once); earlier unused links stop working."""
    now = now or utcnow()
    void_open_links(db, user, now)
    token = secrets.token_urlsafe(32)
    db.add(
        PasswordLink(
            user_id=user.id,
            token_hash=token_hash(token),
            purpose=purpose,
            created_by_id=by.id if by else None,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    return token


def void_open_links(db: Session, user: User, now: datetime) -> int:
    """Make every unused link of the account unusable (marked used now)."""
    return db.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount


def find(db: Session, token: str, now: datetime | None = None) -> PasswordLink | None:
    """The link for a token if it can still be used: unused, unexpired, its account active."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    now = now or utcnow()
    link = db.scalar(select(PasswordLink).where(PasswordLink.token_hash == token_hash(token)))
    if link is None or link.used_at is not None or now >= link.expires_at:
        return None
    if not link.user.active:
        return None
    return link


def use(db: Session, link: PasswordLink, password: str, now: datetime | None = None) -> int:
    """Set the account's password through the link and spend it; returns how many sessions
    of the account were ended. Safe against a double post: the link is claimed by a
    conditional update first, and a second claim finds it used."""
    now = now or utcnow()
    claimed = db.execute(
        update(PasswordLink)
        .where(PasswordLink.id == link.id, PasswordLink.used_at.is_(None))
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    )
    if claimed.rowcount != 1:
        raise LinkUsed()
    user = link.user
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    return end_all_sessions(db, user, "password set by link")


class LinkUsed(Exception):
    """Another request spent the link first."""


def open_link(db: Session, user: User, now: datetime | None = None) -> PasswordLink | None:
    """The account's link that can still be used, if any (for the staff page)."""
    now = now or utcnow()
    return db.scalar(
        select(PasswordLink)
        .where(
            PasswordLink.user_id == user.id,
            PasswordLink.used_at.is_(None),
            PasswordLink.expires_at > now,
        )
        .order_by(PasswordLink.id.desc())
        .limit(1)
    )
