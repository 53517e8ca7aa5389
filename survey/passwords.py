"""Password hashing with argon2id (argon2-cffi's recommended parameters).

`PASSWORD_HASH_PROFILE` picks the parameters new hashes get: `default` (argon2-cffi's
recommendation, the only one a production configuration accepts) or `test`, the smallest
argon2id parameters, so that a test suite creating and signing in hundreds of users does not
spend its minutes hashing. Every hash carries its own parameters, so either profile verifies
any hash, and a hash made with other parameters is rehashed at the next sign-in."""

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import has_app_context

from survey.settings import settings

PROFILES = {
    "default": PasswordHasher(),
    # Tests only (config.py refuses it in production): as cheap as argon2id allows.
    "test": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}

MIN_LENGTH = 12
MAX_LENGTH = 1024


def _hasher() -> PasswordHasher:
    if not has_app_context():
        return PROFILES["default"]
    return PROFILES[settings().password_hash_profile]


@functools.cache
def _unknown_user_hash(hasher: PasswordHasher) -> str:
    """Checked when the address is unknown, so a wrong address takes as long as a wrong
    password."""
    return hasher.hash("no such user")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; an absent hash costs as much time as a real one."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or _unknown_user_hash(hasher), password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None. Length is what matters (NIST 800-63B)."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
