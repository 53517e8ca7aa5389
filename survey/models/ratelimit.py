"""Rate-limit counts kept in the service's own database (survey/security/limit_storage.py), so
that every worker of every web node counts together without another server to run.

Times are seconds since the epoch, as the `limits` library hands them over: counts live for
minutes and are only ever compared with `time.time()`.
"""

from sqlalchemy import BigInteger, Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base

KEY_LENGTH = 255


class RateLimitCounter(Base):
    """One limit key: its count in the current window (fixed-window and sliding-window
    strategies), or, for a moving window, the row that serialises the key's hits."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[float] = mapped_column(Double, index=True)


class RateLimitEntry(Base):
    """One counted hit of a moving window."""

    __tablename__ = "rate_limit_entries"
    __table_args__ = (Index("ix_rate_limit_entries_key_acquired_at", "key", "acquired_at"),)

    # 64-bit on PostgreSQL: every webhook post adds a row. SQLite's rowid is already 64-bit.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    acquired_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double, index=True)


__all__ = ["KEY_LENGTH", "RateLimitCounter", "RateLimitEntry"]
