"""Rate-limit counts in the service's own database: `SURVEY_RATELIMIT_STORAGE_URI=database://`,
the default.

The `limits` library (under Flask-Limiter) keeps counts in memory, Redis, Memcached or MongoDB.
Memory is per process, so gunicorn's workers each counted on their own and a limit let
through as many times its size as there were workers; the others are servers to run beside
the service. Every worker and every web node already shares one database (a SQLite file or
PostgreSQL), so counts kept there are shared without anything more to deploy. This is a
`limits` storage registered under the `database` scheme (the library's registry for custom
storages), holding its rows in the tables of survey/models/ratelimit.py.

Every change of a count is atomic across processes:

- fixed window: one `INSERT ... ON CONFLICT DO UPDATE` statement increments the key's row, or
  starts a new window when the old one has expired;
- moving window (the service's strategy): each hit is a row; a hit first upserts the key's
  counter row, which locks it (PostgreSQL: a row lock until commit; SQLite: the database's
  single writer lock), then counts the live hits and adds its own only below the limit, so two
  workers can never both take the last place;
- sliding window counter: two fixed-window counts, as in the library's memory storage.

Expired rows are deleted as they are met, and all of them once a minute per process.
"""

import hashlib
import logging
import threading
import time
from math import floor

from limits.errors import ConfigurationError
from limits.storage.base import (
    MovingWindowSupport,
    SlidingWindowCounterSupport,
    Storage,
    TimestampedSlidingWindow,
)
from sqlalchemy import case, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from survey.models.ratelimit import KEY_LENGTH, RateLimitCounter, RateLimitEntry

logger = logging.getLogger("survey.security")
SCHEME = "database"
SWEEP_EVERY = 60.0  # seconds between deletions of every expired row, per process

counters = RateLimitCounter.__table__
entries = RateLimitEntry.__table__


def stored_key(key: str) -> str:
    """The key as stored: itself, or a digest when it is longer than the column."""
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseStorage(
    Storage, MovingWindowSupport, SlidingWindowCounterSupport, TimestampedSlidingWindow
):
    """Rate-limit counts in the application's database, shared by every process using it.

    `engine` is the SQLAlchemy engine of the service's database (survey/security/limits.py
    passes the application's own)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        engine: Engine | None = None,
        **options,
    ) -> None:
        if engine is None:
            raise ConfigurationError(
                "database:// keeps rate-limit counts in the service's own database; "
                "it is set up by survey.security.limits with the application's engine."
            )
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ConfigurationError(
                f"database:// supports PostgreSQL and SQLite, not {engine.dialect.name}."
            )
        self.engine = engine
        self._upsert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._swept_at = 0.0
        self._sweep_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    # Fixed window.

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the key's count, starting a new window of `expiry` seconds if the
        last one is over; returns the new count."""
        now = time.time()
        with self.engine.begin() as connection:
            count = self._increment(connection, stored_key(key), now, expiry, amount)
        self._sweep_now_and_then(now)
        return count

    def _increment(
        self, connection: Connection, key: str, now: float, expiry: float, amount: int
    ) -> int:
        statement = self._upsert(counters).values(key=key, count=amount, expires_at=now + expiry)
        expired = counters.c.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": case(
                    (expired, statement.excluded.count),
                    else_=counters.c.count + statement.excluded.count,
                ),
                "expires_at": case(
                    (expired, statement.excluded.expires_at), else_=counters.c.expires_at
                ),
            },
        ).returning(counters.c.count)
        return connection.execute(statement).scalar_one()

    def decr(self, key: str, amount: int = 1) -> int:
        """Take `amount` off the key's count (never below zero); returns the new count."""
        now = time.time()
        with self.engine.begin() as connection:
            connection.execute(
                update(counters)
                .where(counters.c.key == stored_key(key), counters.c.expires_at > now)
                .values(count=case((counters.c.count > amount, counters.c.count - amount), else_=0))
            )
            return self._count(connection, stored_key(key), now)

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            return self._count(connection, stored_key(key), time.time())

    @staticmethod
    def _count(connection: Connection, key: str, now: float) -> int:
        count = connection.scalar(
            select(counters.c.count).where(counters.c.key == key, counters.c.expires_at > now)
        )
        return count or 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with self.engine.connect() as connection:
            expires_at = connection.scalar(
                select(counters.c.expires_at).where(
                    counters.c.key == stored_key(key), counters.c.expires_at > now
                )
            )
        return expires_at if expires_at is not None else now

    # Moving window.

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count `amount` hits now if the last `expiry` seconds hold at most `limit - amount`."""
        if amount > limit:
            return False
        key, now = stored_key(key), time.time()
        with self.engine.begin() as connection:
            # The upsert comes first: it locks the key for this transaction, so the count below
            # cannot change before this hit is added (or refused).
            statement = self._upsert(counters).values(key=key, count=0, expires_at=now + expiry)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[counters.c.key],
                    set_={"expires_at": statement.excluded.expires_at},
                )
            )
            connection.execute(
                delete(entries).where(entries.c.key == key, entries.c.acquired_at <= now - expiry)
            )
            live = connection.scalar(
                select(func.count()).select_from(entries).where(entries.c.key == key)
            )
            acquired = live + amount <= limit
            if acquired:
                connection.execute(
                    insert(entries),
                    [{"key": key, "acquired_at": now, "expires_at": now + expiry}] * amount,
                )
                live += amount
            connection.execute(update(counters).where(counters.c.key == key).values(count=live))
        self._sweep_now_and_then(now)
        return acquired

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(when the oldest hit still in the window happened, how many hits it holds)."""
        now = time.time()
        with self.engine.connect() as connection:
            oldest, count = connection.execute(
                select(func.min(entries.c.acquired_at), func.count()).where(
                    entries.c.key == stored_key(key), entries.c.acquired_at > now - expiry
                )
            ).one()
        return (oldest, count) if count else (now, 0)

    # Sliding window counter: the library's memory storage, over the counts above.

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous_count, previous_ttl, current_count, _ = self._sliding_window(
            previous_key, current_key, expiry, now
        )
        if floor(previous_count * previous_ttl / expiry + current_count) + amount > limit:
            return False
        current_count = self.incr(current_key, 2 * expiry, amount=amount)
        if floor(previous_count * previous_ttl / expiry + current_count) > limit:
            # Another process took the last place meanwhile: give this one back.
            self.decr(current_key, amount)
            return False
        return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        return self._sliding_window(previous_key, current_key, expiry, now)

    def _sliding_window(
        self, previous_key: str, current_key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        previous_count, current_count = self.get(previous_key), self.get(current_key)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous_count else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous_count, previous_ttl, current_count, current_ttl

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)

    # Housekeeping.

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(entries).where(entries.c.key == stored_key(key)))
            connection.execute(delete(counters).where(counters.c.key == stored_key(key)))

    def reset(self) -> int | None:
        """Forget every count; returns how many rows there were."""
        with self.engine.begin() as connection:
            removed = connection.execute(delete(entries)).rowcount
            removed += connection.execute(delete(counters)).rowcount
        return removed

    def check(self) -> bool:
        """Whether the database answers (Flask-Limiter asks after an outage)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _sweep_now_and_then(self, now: float) -> None:
        """Delete every expired row, at most once a minute in this process."""
        if now - self._swept_at < SWEEP_EVERY or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._swept_at = now
            with self.engine.begin() as connection:
                connection.execute(delete(entries).where(entries.c.expires_at <= now))
                connection.execute(delete(counters).where(counters.c.expires_at <= now))
        except SQLAlchemyError as error:  # the count itself was kept; the next sweep retries
            logger.warning("could not delete expired rate-limit counts: %s", error)
        finally:
            self._sweep_lock.release()
