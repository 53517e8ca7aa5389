"""Pooled PostgreSQL connections that died while idle are replaced at checkout, without the
round trip of SQLAlchemy's `pool_pre_ping` (a `SELECT 1` before every request's first
statement, about one round trip in seven on a patient page).

A server that restarts, or ends a backend (`pg_terminate_backend`, an idle timeout), sends
the client an error and closes the socket; a peer that vanished without a word (a host
rebooted, a link cut) is found by TCP keepalives, which the engine turns on for idle
connections (`config.engine_options`). Either way the idle connection's socket becomes
readable, while a healthy idle connection has nothing to read: a poll of the socket with no
timeout, a system call and no round trip, tells the two apart. A connection found dead is
thrown away and the pool opens a new one (if the server is still down, the request fails
and the patient sees the calm 503 page, as before). `pool_recycle` bounds every connection's
age, and a statement that still meets a dead connection makes SQLAlchemy invalidate every
older connection in the pool, so at most the requests in flight at that moment see it.

What a pre-ping did and this does not: a request in the few milliseconds between the server
closing a connection and the kernel delivering that end of file, or on a connection whose
peer vanished within the keepalive time, meets the dead connection and gets the 503 page
once, but for a patient page's first read, which is read again once on a new connection
(`read_again_if_disconnected`: nothing has happened in its transaction yet).

tests/security/test_database_restart.py once failed in about half its runs with this check
alone: its relay, standing in for the server, closed the app's side of a connection without
shutting it down while its other thread was still blocked reading it, so the kernel kept it
open and nothing reached the app until its next statement. A server's end is seen at once;
the relay now ends connections as a server does.
"""

import select
from collections.abc import Callable
from typing import TypeVar

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

T = TypeVar("T")


def idle_connection_is_dead(dbapi_connection) -> bool:
    """Whether a pooled psycopg connection was closed, or has something to read while idle
    (the server's goodbye, end of file, or a socket error): False for anything else."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not PostgreSQL (SQLite has no server to lose)
        return False
    if dbapi_connection.closed or getattr(dbapi_connection, "broken", False):
        return True
    try:
        fd = pgconn.socket
    except Exception:  # psycopg raises once the connection has no socket
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _check_out(dbapi_connection, connection_record, connection_proxy) -> None:
    if idle_connection_is_dead(dbapi_connection):
        # The pool discards this connection and checks out a new one in its place.
        raise DisconnectionError("the pooled connection was closed by the server while idle")


def read_again_if_disconnected(session: Session, read: Callable[[], T]) -> T:
    """`read()`, the first statements of a request, once more on a new connection if the one
    it met had been closed by the server unseen (the window the checkout check cannot close).
    Only when the session had nothing in progress: SQLAlchemy has thrown the dead connection
    away, and nothing of the transaction is lost by starting it again. Later in a
    transaction a lost connection still fails the request (the 503 page)."""
    if session.in_transaction():
        return read()
    try:
        return read()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        session.rollback()
        return read()


def watch(engine: Engine) -> None:
    """Check every connection `engine`'s pool hands out (once per engine)."""
    if not event.contains(engine, "checkout", _check_out):
        event.listen(engine, "checkout", _check_out)


def init_app(app: Flask, engine: Engine) -> None:
    if not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
        watch(engine)
