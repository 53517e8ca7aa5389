"""Sites and the staff who work at them."""

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, false, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.characters import refused_characters
from survey.models.base import Base, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"


site_memberships = Table(
    "site_memberships",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class Site(Base):
    """A clinic or hospital department that follows its own patients."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    # ISO 3166-1 alpha-2 ("ES", "TR"): the numbering plan in which staff type patients'
    # mobile numbers without the country code. None on sites made before countries.
    country: Mapped[str | None] = mapped_column(String(2))
    # Shown to patients who reply HELP or whose link no longer works.
    contact: Mapped[str] = mapped_column(String(200), default="")
    # Whether patients see their own totals over time after sending (off unless the site
    # chooses it: survey/patient/own_results.py).
    patient_results: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[list["User"]] = relationship(secondary=site_memberships, back_populates="sites")

    def __repr__(self) -> str:
        return f"<Site {self.name!r}>"


class User(Base):
    """A member of staff who signs in: admin, clinician or coordinator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # Second factor (survey/domain/totp.py): the TOTP key once enrolled, whether an admin requires
    # one, and the last 30-second step accepted, so that a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    totp_last_step: Mapped[int | None]

    sites: Mapped[list[Site]] = relationship(
        secondary=site_memberships, back_populates="staff", order_by=Site.name
    )
    sessions: Mapped[list["StaffSession"]] = relationship(back_populates="user")

    @property
    def site_ids(self) -> list[int]:
        return [site.id for site in self.sites]

    def __repr__(self) -> str:
        return f"<User {self.email!r} {self.role}>"


class StaffSession(Base):
    """One signed-in browser. Kept server-side so that it can expire and be revoked."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ended_because: Mapped[str | None] = mapped_column(String(32))
    # Shown on the account page so that staff recognise (and can end) their other sessions.
    remote_addr: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # A TOTP key being enrolled in this browser, until the first code confirms it.
    totp_candidate: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(back_populates="sessions")


class PasswordLink(Base):
    """A one-time link to set an account's password, handed over by an admin (the service
    sends no email): to activate a new account, or to reset a forgotten password. Only the
    token's hash is kept; the link is shown once, works once, and expires."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "activate" or "reset"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


def user_by_email(session, email: str) -> User | None:
    """The user with this address, compared case-insensitively."""
    email = email.strip().lower()
    if len(email) > 254 or refused_characters(email):
        return None  # no account has such an address, and it must never reach a query
    return session.scalar(select(User).where(User.email == email))
