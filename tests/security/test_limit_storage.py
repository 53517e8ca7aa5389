"""Rate-limit counts in the service's database (database://): each strategy counts as the
`limits` library's own storages do, and processes racing for the last place never both get it.

The racing tests use threads with a connection each, so the database alone keeps the count
right; on PostgreSQL they are truly concurrent, on SQLite the database's writer lock
serialises them, as it does between gunicorn workers."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits import parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from survey.extensions import db
from survey.models import RateLimitCounter, RateLimitEntry
from survey.security import limit_storage
from survey.security.limit_storage import DatabaseStorage
from tests.conftest import make_app

RACERS = 12


@pytest.fixture
def storage(app) -> DatabaseStorage:
    made = storage_from_string("database://", engine=db.engine)
    assert isinstance(made, DatabaseStorage)
    return made


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def race(attempt, times: int) -> list:
    """Run `attempt` `times` times from RACERS threads released at one moment."""
    start = threading.Barrier(RACERS)

    def racer(n: int):
        start.wait()
        return [attempt() for _ in range(n)]

    shares = [times // RACERS + (1 if i < times % RACERS else 0) for i in range(RACERS)]
    with ThreadPoolExecutor(RACERS) as pool:
        results = [result for share in pool.map(racer, shares) for result in share]
    assert len(results) == times
    return results


def test_the_storage_needs_the_services_engine():
    with pytest.raises(ConfigurationError, match="service's own database"):
        storage_from_string("database://")


def test_the_fixed_window_counts_and_starts_again_when_it_expires(storage, clock):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("3 per 1 second")
    assert [limiter.hit(limit, "fixed") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(limit, "fixed")
    reset_at, remaining = limiter.get_window_stats(limit, "fixed")
    assert remaining == 0 and time.time() < reset_at <= time.time() + 1
    clock.advance(1.1)
    assert limiter.test(limit, "fixed")
    assert storage.get(limit.key_for("fixed")) == 0
    assert limiter.hit(limit, "fixed")
    assert storage.get(limit.key_for("fixed")) == 1


def test_the_moving_window_holds_exactly_its_limit_and_lets_old_hits_go(storage, clock):
    limiter = MovingWindowRateLimiter(storage)
    limit = parse("3 per 2 seconds")
    assert limiter.hit(limit, "moving")
    clock.advance(1.1)
    assert [limiter.hit(limit, "moving") for _ in range(3)] == [True, True, False]
    assert not limiter.test(limit, "moving")
    reset_at, remaining = limiter.get_window_stats(limit, "moving")
    assert remaining == 0
    assert reset_at <= time.time() + 1  # the first hit leaves the window first
    clock.advance(1.0)  # the first hit is out of the window; the other two are not
    assert limiter.test(limit, "moving")
    assert [limiter.hit(limit, "moving") for _ in range(2)] == [True, False]
    assert not limiter.hit(limit, "moving", cost=4)  # more than the whole limit


def test_the_sliding_window_counter_holds_its_limit(storage):
    limiter = SlidingWindowCounterRateLimiter(storage)
    limit = parse("5 per 10 seconds")
    assert [limiter.hit(limit, "sliding") for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.test(limit, "sliding")
    assert limiter.get_window_stats(limit, "sliding").remaining == 0
    limiter.clear(limit, "sliding")
    assert limiter.test(limit, "sliding")


def test_keys_are_separate_and_clear_and_reset_forget_them(storage):
    limiter = MovingWindowRateLimiter(storage)
    limit = parse("1 per minute")
    assert limiter.hit(limit, "one") and limiter.hit(limit, "two")
    assert not limiter.hit(limit, "one")
    limiter.clear(limit, "one")
    assert limiter.hit(limit, "one")
    assert not limiter.hit(limit, "two")
    assert storage.reset() >= 2
    assert rows(RateLimitEntry) == rows(RateLimitCounter) == 0
    assert storage.check()


def test_a_key_longer_than_the_column_is_stored_as_its_digest(storage):
    long_key = "k" * 1000
    assert storage.incr(long_key, 60) == 1
    assert storage.incr(long_key, 60) == 2
    stored = db.session.scalar(select(RateLimitCounter.key))
    assert stored.startswith("sha256:") and len(stored) <= 255
    assert storage.get(long_key) == 2


def test_expired_counts_are_swept_away(storage, monkeypatch, clock):
    limiter = MovingWindowRateLimiter(storage)
    assert limiter.hit(parse("5 per 1 second"), "old")
    storage.incr("old-counter", 1)
    assert rows(RateLimitEntry) == 1
    clock.advance(1.1)
    monkeypatch.setattr(limit_storage, "SWEEP_EVERY", 0)
    assert limiter.hit(parse("5 per minute"), "new")
    db.session.expire_all()
    assert db.session.scalars(select(RateLimitEntry.key)).all() == [
        parse("5 per minute").key_for("new")
    ]
    assert "old-counter" not in db.session.scalars(select(RateLimitCounter.key)).all()


def test_racing_hits_never_take_more_places_than_the_moving_window_has(storage):
    limiter = MovingWindowRateLimiter(storage)
    limit = parse("20 per minute")
    results = race(lambda: limiter.hit(limit, "race"), 60)
    assert results.count(True) == 20
    assert storage.get_moving_window(limit.key_for("race"), 20, 60)[1] == 20
    assert rows(RateLimitEntry) == 20


def test_racing_increments_of_a_fixed_window_are_each_counted_once(storage):
    results = race(lambda: storage.incr("race-fixed", 60), 60)
    assert sorted(results) == list(range(1, 61))
    assert storage.get("race-fixed") == 60


def test_two_nodes_on_one_database_share_their_counts(schema):
    """Two apps stand for two workers or web nodes: neither has Redis, both count together."""
    one, two = make_app(schema), make_app(schema)
    address = {"environ_base": {"REMOTE_ADDR": "192.0.2.44"}}
    try:
        for n in range(5):
            assert one.test_client().get(f"/s/{n:022d}", **address).status_code == 404
            assert two.test_client().get(f"/s/{n + 5:022d}", **address).status_code == 404
        assert one.test_client().get("/s/" + "B" * 22, **address).status_code == 429
        assert two.test_client().get("/s/" + "B" * 22, **address).status_code == 429
    finally:
        with one.app_context():
            from survey.security.limits import limiter_of

            limiter_of(one).reset()
            db.engine.dispose()
        with two.app_context():
            db.engine.dispose()


def broken(*args, **kwargs):
    raise OperationalError("SELECT", {}, Exception("the database went away"))


def test_a_count_that_cannot_be_written_after_the_response_is_no_server_error(client, monkeypatch):
    monkeypatch.setattr(DatabaseStorage, "acquire_entry", broken)
    assert client.get("/s/" + "D" * 22).status_code == 404  # answered; the count is lost
    assert rows(RateLimitEntry) == 0


# An app of its own: Flask-Limiter remembers the outage (its in-memory fallback and back-off)
# on the app, which must not carry over to the tests after this one.
@pytest.mark.app_config()
def test_with_the_database_unreachable_limits_count_in_memory_then_come_back(client, monkeypatch):
    for method in ("get_moving_window", "acquire_entry"):
        monkeypatch.setattr(DatabaseStorage, method, broken)
    # What DatabaseStorage.check answers while the database is away. (Raising instead, as
    # the other two do, made Flask-Limiter let one request through unlimited whenever its
    # back-off, one second at first, ran out between two requests: on a loaded machine.)
    monkeypatch.setattr(DatabaseStorage, "check", lambda storage: False)
    statuses = [client.get(f"/s/{n:022d}").status_code for n in range(11)]
    assert statuses == [404] * 10 + [429]  # still limited, by this process alone
    assert rows(RateLimitEntry) == 0
    monkeypatch.undo()
    # Flask-Limiter asks the storage again after a back-off of a few seconds.
    deadline = time.monotonic() + 20
    while rows(RateLimitEntry) == 0 and time.monotonic() < deadline:
        client.get("/s/" + "E" * 22, environ_base={"REMOTE_ADDR": "192.0.2.9"})
        time.sleep(0.5)
    assert rows(RateLimitEntry) >= 1  # counted in the database again
