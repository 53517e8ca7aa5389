"""Ways to take the database away from a running app and give it back.

On PostgreSQL the app talks to the server through a small TCP relay on 127.0.0.1 that can
drop every connection and refuse new ones: a real outage as the driver sees it. On SQLite
(and for failures of one statement) a SQLAlchemy hook raises the driver's own error."""

import socket
import sqlite3
import threading
from contextlib import suppress

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url


class Relay:
    """Forwards 127.0.0.1:<port> to the database server until `cut()`; `mend()` restores it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, database_url: str) -> str:
        return str(
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def cut(self) -> None:
        """Drop every connection; new ones are closed as soon as they arrive."""
        with self.lock:
            self.open = False
            for sock in self.sockets:
                _end(sock)
            self.sockets.clear()

    def mend(self) -> None:
        with self.lock:
            self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open:
                    client.close()
                    continue
                try:
                    server = socket.create_connection(self.target)
                except OSError:
                    client.close()
                    continue
                self.sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            _end(sock)


def _end(sock: socket.socket) -> None:
    """Close a relayed socket so that its peer sees the end at once, as it would see a
    server's. Shut down first: a close alone, while the other direction's thread is still
    blocked reading the same socket, leaves it open in the kernel (the blocked read holds
    it), and the peer then learns nothing until it next writes. That is how a cut whose
    server side was closed first (the pipe thread then closing the client side) used to leave
    the app's idle connection looking alive to connection_health's poll."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class FailingStatements:
    """Makes statements on an engine fail as if the server had gone, while `.failing` says so
    (every statement, or only those containing `.only`)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.failing = False
        self.only: str | None = None
        self.dialect = engine.dialect.name
        event.listen(engine, "before_cursor_execute", self._maybe_fail)

    def _maybe_fail(self, conn, cursor, statement, parameters, context, executemany):
        if self.failing and (self.only is None or self.only in statement):
            if self.dialect == "postgresql":
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            raise sqlite3.OperationalError("unable to open database file")

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._maybe_fail)
