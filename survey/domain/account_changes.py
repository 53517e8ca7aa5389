"""Changes an admin makes to a staff account's security, shared by the `users` commands and
the admin staff page: require or reset a second factor, disable or enable, end sessions.

Each function changes the account and returns the audit action and detail; the caller
records them (with who did it) and commits, so a change and its audit event land together."""

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from survey.domain.staff_sessions import end_all_sessions
from survey.models import User


@dataclass(frozen=True)
class AccountChange:
    action: str  # the audit action
    detail: dict = field(default_factory=dict)


def require_second_factor(user: User, required: bool = True) -> AccountChange:
    """Make the user set up (and keep) a second factor, or stop requiring it. A factor already
    set up stays either way: taking it away is `reset_second_factor`."""
    user.totp_required = required
    return AccountChange("2fa.required" if required else "2fa.not_required")


def reset_second_factor(db: Session, user: User) -> AccountChange:
    """A lost phone: remove the factor and sign the user out everywhere."""
    user.totp_secret, user.totp_last_step = None, None
    ended = end_all_sessions(db, user, "second factor reset")
    return AccountChange("2fa.reset", {"sessions_ended": ended})


def disable(db: Session, user: User) -> AccountChange:
    """Refuse the user's sign-ins from now on and end their sessions at once."""
    user.active = False
    ended = end_all_sessions(db, user, "user disabled")
    return AccountChange("user.disabled", {"sessions_ended": ended})


def enable(user: User) -> AccountChange:
    user.active = True
    return AccountChange("user.enabled")


def end_sessions(db: Session, user: User) -> AccountChange:
    """Sign the user out of every browser."""
    ended = end_all_sessions(db, user, "ended by admin")
    return AccountChange("sessions.ended", {"sessions": ended})
