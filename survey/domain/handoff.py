"""Handing a clinic tablet one patient's questionnaires, without a staff session on it.

A coordinator makes a short code for an open invitation; the tablet types it at /t (or scans
its QR code, which opens /t/<code>) and gets the patient's questionnaires as if it had opened
their SMS link, with the answers recorded as given on a tablet. The code is random, only its
hash is kept, it works once and for a few minutes: a photo of the screen, a copy of the
database or a second tablet cannot open the invitation with it."""

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from survey.domain.analytics import refresh_invitation_facts
from survey.models import Invitation, TabletHandoff, User, utcnow

# No 0/O, 1/I/L or U: read aloud or typed on a tablet without mistakes. 8 characters of 30 are
# about 39 bits; with the code expiring in minutes and wrong codes rate-limited per address,
# guessing one is out of reach.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
LIFETIME = timedelta(minutes=15)
_TYPED = re.compile(r"[\s-]+")


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def normalise(typed: str) -> str | None:
    """A typed code as stored (capitals, no spaces or dashes), or None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 40:
        return None
    code = _TYPED.sub("", typed).upper()
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def grouped(code: str) -> str:
    """The code as a person reads it: ABCD-EFGH."""
    return f"{code[:4]}-{code[4:]}"


def make_code(db: Session, invitation: Invitation, user: User, now: datetime | None = None) -> str:
    """A new code for the invitation (the caller checks that it is open and audits); earlier
    unused codes for it stop working, so only the latest screen shown can be used."""
    now = now or utcnow()
    db.execute(
        update(TabletHandoff)
        .where(TabletHandoff.invitation_id == invitation.id, TabletHandoff.used_at.is_(None))
        .values(expires_at=now)
    )
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    db.add(
        TabletHandoff(
            invitation=invitation,
            code_hash=code_hash(code),
            created_at=now,
            expires_at=now + LIFETIME,
            created_by_id=user.id,
        )
    )
    return code


def redeem(db: Session, typed: str, now: datetime | None = None) -> Invitation | None:
    """The invitation a code opens, once: the code is used up in the same transaction. None
    for a code that is malformed, unknown, used or expired (the tablet is told the same for
    each, so it learns nothing about which)."""
    now = now or utcnow()
    code = normalise(typed)
    if code is None:
        return None
    # One conditional UPDATE: two tablets typing the same code at once cannot both win.
    handoff_id = db.scalar(
        update(TabletHandoff)
        .where(
            TabletHandoff.code_hash == code_hash(code),
            TabletHandoff.used_at.is_(None),
            TabletHandoff.expires_at > now,
        )
        .values(used_at=now)
        .returning(TabletHandoff.id)
    )
    if handoff_id is None:
        db.rollback()
        return None
    handoff = db.scalars(select(TabletHandoff).where(TabletHandoff.id == handoff_id)).one()
    invitation = handoff.invitation
    if invitation.started_at is None:
        invitation.started_at = now
    # The code was used by a Core UPDATE, which no flush sees: the invitation now counts as
    # opened on a tablet (its kept facts and analytics counts), in this transaction.
    refresh_invitation_facts(db, [invitation.id])
    return invitation
