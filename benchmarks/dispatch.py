"""How fast the SMS dispatcher sends, next to what the provider's API can take (issue #7).

Run by hand against a PostgreSQL database of its own (its tables live in a schema `bench`,
dropped and rebuilt on every run):

    PYTHONPATH=. python benchmarks/dispatch.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench_dispatch --concurrency 8

It starts the local stand-in for Twilio's Messages API (tests/outreach/twilio_server.py) in a
process of its own, so the server never competes with a client for one interpreter, and:

1. measures the server's own capacity: requests/s from the Twilio SDK alone, with the same
   number of threads the dispatcher will use (the ceiling the dispatcher can reach);
2. inserts N due invitations (N patients, N invitations, N messages) in bulk and times one
   dispatcher process sending them all: messages/s, and its ratio to the ceiling;
3. inserts another N and runs two dispatcher processes at the same moment over them, then
   checks with the server that each message arrived exactly once and that all were sent.

Each dispatcher prints what a message cost it: statements, BEGINs and COMMITs (round trips),
and CPU time, its own process's (every thread) and its PostgreSQL backends' (read from
/proc: the server must run on this machine; "n/a" otherwise). The floor prints the SDK's CPU
time a request. On a shared machine throughput moves with the neighbours; CPU time and
statements move with the code.
"""

import argparse
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))  # run as a script: make `survey` and `tests` importable

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

sys.path.insert(0, str(CHECKOUT / "benchmarks"))  # run_all's registry, run as a script too
from registry import benchmark  # noqa: E402

from tests.outreach import twilio_server  # noqa: E402

# A Monday at 11:00 in Madrid: inside the sending hours, so no message waits for the morning.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SCHEMA = "bench"
PUBLIC_URL = "https://survey.example.org"
TARGET = 0.5  # of the floor, two dispatchers at once (issue #19)


def message_id(status_callback: str | None) -> int | None:
    """The message a request was for, from the status callback the dispatcher sets."""
    query = parse_qs(urlsplit(status_callback or "").query)
    return int(query["message"][0]) if "message" in query else None


def serve(connection) -> None:
    """The Messages-API stand-in, answering the parent's questions about what it received."""
    state, server = twilio_server.start()
    connection.send(state.url)
    while True:
        command = connection.recv()
        with state.lock:
            if command == "received":
                connection.send(
                    (state.requests, Counter(message_id(r.status_callback) for r in state.received))
                )
            elif command == "reset":
                state.received.clear()
                state.requests = 0
                connection.send(True)
        if command == "stop":
            server.shutdown()
            connection.send(True)
            return


def app_config(database_url: str, api_url: str, concurrency: int) -> dict:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "benchmark-secret-key-not-for-production",
        "PUBLIC_URL": PUBLIC_URL,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": twilio_server.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": twilio_server.AUTH_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32,
        "TWILIO_API_URL": api_url,
        "SMS_DISPATCH_CONCURRENCY": concurrency,
    }


def measure_server(api_url: str, concurrency: int, requests: int, body: str) -> float:
    """Requests/s the server answers to the Twilio SDK alone, with `concurrency` threads
    sharing one client, as the dispatcher's threads share its backend (and prints the SDK's
    CPU time a request)."""
    from survey.outreach.backends import Outcome, OutgoingSms
    from survey.outreach.backends.twilio import TwilioBackend

    backend = TwilioBackend(
        account_sid=twilio_server.ACCOUNT_SID,
        auth_token=twilio_server.AUTH_TOKEN,
        messaging_service_sid="MG" + "1" * 32,
        from_number=None,
        api_url=api_url,
    )
    numbers = iter(range(requests))
    lock = threading.Lock()
    failures = []

    def client() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            sms = OutgoingSms(
                n, 1, f"+3469{n:07d}", body, f"{PUBLIC_URL}/webhooks/twilio/status?message={n}"
            )
            if backend.send(sms).outcome != Outcome.ACCEPTED:
                failures.append(n)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if failures:
        raise SystemExit(f"the server refused {len(failures)} plain requests")
    print(f"  the SDK's CPU time a request: {cpu / requests * 1000:.2f} ms")
    return requests / elapsed


def reset_schema(admin_url: str) -> str:
    """A clean schema for the run; the URL that puts the app's tables in it."""
    engine = create_engine(admin_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    separator = "&" if "?" in admin_url else "?"
    return f"{admin_url}{separator}options=-csearch_path%3D{SCHEMA}"


def build_schema(database_url: str) -> None:
    import flask_migrate

    from survey import create_app

    app = create_app(app_config(database_url, "http://unused", 1))
    with app.app_context():
        flask_migrate.upgrade()


def seed(database_url: str, count: int, first: int) -> list[int]:
    """`count` patients, each with an open invitation whose message is due now, inserted in
    bulk (a few statements, not `count` enrolments); returns the messages' ids."""
    from survey import create_app
    from survey.domain.staff_setup import create_site
    from survey.extensions import db
    from survey.models import Invitation, Message, MessageKind, MessageStatus, Patient, Site

    app = create_app(app_config(database_url, "http://unused", 1))
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.name == "Benchmark clinic"))
        if site is None:
            site = create_site(db.session, "Benchmark clinic", "Europe/Madrid", "es")
            db.session.commit()
        patient_ids = db.session.scalars(
            insert(Patient).returning(Patient.id, sort_by_parameter_order=True),
            [
                {
                    "site_id": site.id,
                    "reference": f"BENCH-{n:06d}",
                    "phone": f"+3461{n:07d}",  # a distinct mobile number for each patient
                    "language": ("es", "en", "tr")[n % 3],
                    "timezone": "Europe/Madrid",
                    "index_date": date(2026, 3, 9),
                    "status": "active",
                }
                for n in range(first, first + count)
            ],
        ).all()
        invitation_ids = db.session.scalars(
            insert(Invitation).returning(Invitation.id, sort_by_parameter_order=True),
            [
                {
                    "patient_id": patient_id,
                    "timepoint": "baseline",
                    "instrument_ids": ["qolaf-q", "ccis"],
                    "opens_at": NOW - timedelta(days=1),
                    "expires_at": NOW + timedelta(days=14),
                    "status": "open",
                }
                for patient_id in patient_ids
            ],
        ).all()
        message_ids = db.session.scalars(
            insert(Message).returning(Message.id, sort_by_parameter_order=True),
            [
                {
                    "patient_id": patient_id,
                    "invitation_id": invitation_id,
                    "kind": MessageKind.INVITATION,
                    "status": MessageStatus.PENDING,
                    "due_at": NOW - timedelta(minutes=1),
                }
                for patient_id, invitation_id in zip(patient_ids, invitation_ids, strict=True)
            ],
        ).all()
        db.session.commit()
        db.session.execute(text("ANALYZE"))  # as autovacuum would soon after a bulk load
        db.session.commit()
    return message_ids


class RoundTrips:
    """What a dispatcher asks of the database: statements, and transactions begun and ended
    (each BEGIN and COMMIT is a round trip of its own with psycopg)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements = self.begins = self.commits = 0
        self.lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *args) -> None:
        with self.lock:
            self.statements += 1

    def _begin(self, *args) -> None:
        with self.lock:
            self.begins += 1

    def _commit(self, *args) -> None:
        with self.lock:
            self.commits += 1

    def per(self, messages: int) -> str:
        n = max(messages, 1)
        return (
            f"per message: {self.statements / n:.2f} statements, {self.begins / n:.2f} BEGIN, "
            f"{self.commits / n:.2f} COMMIT"
        )


class DatabaseCpu:
    """CPU time of the PostgreSQL backends serving an engine's connections from now on: each
    backend's /proc entry read at its connection's first checkout, when it closes, and at
    the end (the server must run on this machine)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.lock = threading.Lock()
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "close", self._close)

    @staticmethod
    def _seconds(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def _checkout(self, dbapi_connection, *args) -> None:
        pid = dbapi_connection.info.backend_pid
        with self.lock:
            if pid not in self.first and (seconds := self._seconds(pid)) is not None:
                self.first[pid] = seconds

    def _close(self, dbapi_connection, *args) -> None:
        pid = dbapi_connection.info.backend_pid
        if pid in self.first and (seconds := self._seconds(pid)) is not None:
            with self.lock:
                self.last[pid] = seconds

    def seconds(self) -> float | None:
        with self.lock:
            for pid in self.first:
                if (seconds := self._seconds(pid)) is not None:
                    self.last[pid] = seconds
            if not self.first:
                return None
            return sum(self.last.get(pid, first) - first for pid, first in self.first.items())


def dispatcher(database_url, api_url, concurrency, limit, start, results, profile=None) -> None:
    """One dispatcher process: a single pass over everything due, timed."""
    from survey import create_app
    from survey.extensions import db
    from survey.outreach.backends import backend_from_config
    from survey.outreach.dispatch import dispatch_due
    from survey.outreach.dispatch_settings import DispatchSettings

    app = create_app(app_config(database_url, api_url, concurrency))
    with app.app_context():
        backend = backend_from_config(app.config, app.instance_path)
        settings = DispatchSettings.from_config(app.config)
        db.session.execute(select(1))  # connect before the clock starts
        db.session.commit()
        trips, database_cpu = RoundTrips(db.engine), DatabaseCpu(db.engine)
        if profile:
            import yappi  # every thread's time, not only the main thread's

            yappi.set_clock_type("cpu")
            yappi.start()
        start.wait()
        started, cpu = time.perf_counter(), time.process_time()
        report = dispatch_due(db.session, backend, settings, now=NOW, limit=limit)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile:
            yappi.stop()
            yappi.get_func_stats().save(profile, type="pstat")
        n, backends = max(report.sent, 1), database_cpu.seconds()
        costs = (
            f"{trips.per(report.sent)}, CPU {cpu / n * 1000:.2f} ms here and "
            + ("n/a" if backends is None else f"{backends / n * 1000:.2f} ms")
            + " in its PostgreSQL backends"
        )
        results.put((elapsed, report.sent, f"{report}; {costs}"))


def run_dispatchers(context, count, database_url, api_url, concurrency, limit, profile=None):
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=dispatcher,
            args=(database_url, api_url, concurrency, limit, start, results, profile),
        )
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # let every process import and connect before they start together
    start.set()
    outcomes = [results.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a dispatcher process failed (exit code {process.exitcode})")
    return outcomes


def check_sent_once(database_url: str, message_ids: list[int], received: Counter) -> list[str]:
    """What is wrong, if anything: a message received other than once, or not sent."""
    from survey.models import Message

    problems = []
    counts = Counter(received[message] for message in message_ids)
    if set(counts) != {1}:
        problems.append(f"received-count histogram {dict(counts)} (want every message once)")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(Message.status, func.count())
                .where(Message.id.in_(message_ids))
                .group_by(Message.status)
            ).all()
        )
        attempts = connection.scalar(
            select(func.max(Message.attempts)).where(Message.id.in_(message_ids))
        )
    engine.dispose()
    if statuses != {"queued": len(message_ids)} and statuses != {"sent": len(message_ids)}:
        problems.append(f"statuses {statuses} (want all accepted)")
    if attempts != 1:
        problems.append(f"a message took {attempts} attempts")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to use")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="sending threads")
    parser.add_argument(
        "--skip-two", action="store_true", help="only the single-dispatcher measurement"
    )
    parser.add_argument(
        "--profile", help="write the single dispatcher's CPU profile here (pstats; needs yappi)"
    )
    measure(parser.parse_args())


def measure(options) -> list:
    """Run the measurements `options` ask for; the summary table's rows."""
    from registry import Row

    rows = []
    if not options.database_url.startswith("postgresql"):
        raise SystemExit("PostgreSQL only: two dispatchers at once need its row locks")

    from survey.domain.invitations import link_url
    from survey.outreach.texts import INVITATION, render

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(child,), daemon=True)
    server.start()
    api_url = parent.recv()

    def ask(command):
        parent.send(command)
        return parent.recv()

    n, threads = options.messages, options.concurrency
    print(f"{n} messages, {threads} sending thread(s) per dispatcher, server at {api_url}")
    from survey import create_app

    # The texts come from the catalogs: render the floor's body as the dispatcher would.
    with create_app(app_config(options.database_url, api_url, threads)).app_context():
        body = render(INVITATION, "es", "Benchmark clinic", link_url(PUBLIC_URL, "x" * 22))
    ask("reset")
    ceiling = measure_server(api_url, threads, n, body)
    print(f"server alone (Twilio SDK, {threads} threads): {ceiling:8.0f} requests/s")
    ask("reset")

    database_url = reset_schema(options.database_url)
    build_schema(database_url)
    started = time.perf_counter()
    first = seed(database_url, n, 0)
    print(f"seeded {n} due messages in {time.perf_counter() - started:.1f} s")
    [(elapsed, sent, report)] = run_dispatchers(
        context, 1, database_url, api_url, threads, n, options.profile
    )
    rate = sent / elapsed
    _requests, received = ask("received")
    problems = check_sent_once(database_url, first, received)
    print(f"one dispatcher: {sent} sent in {elapsed:.1f} s = {rate:8.0f} messages/s ({report})")
    print(f"ratio dispatcher / server alone: {rate / ceiling:.2f}")
    rows.append(
        Row(
            f"dispatcher, one, {threads} senders",
            rate,
            "msg/s",
            ceiling,
            note="floor: the twilio SDK alone, same threads, same local API"
            + ("" if not problems else "; PROBLEM: " + "; ".join(problems)),
        )
    )
    print("  all sent, each once" if not problems else "  PROBLEM: " + "; ".join(problems))

    if not options.skip_two:
        ask("reset")
        second = seed(database_url, n, n)
        # The machine is shared: the floor again, just before the run it is compared with.
        ceiling = measure_server(api_url, threads, n, body)
        print(f"server alone again (Twilio SDK, {threads} threads): {ceiling:8.0f} requests/s")
        ask("reset")
        outcomes = run_dispatchers(context, 2, database_url, api_url, threads, n)
        _requests, received = ask("received")
        problems = check_sent_once(database_url, second, received)
        wall = max(elapsed for elapsed, _sent, _report in outcomes)
        shares = " + ".join(str(sent) for _elapsed, sent, _report in outcomes)
        rate = sum(s for _e, s, _r in outcomes) / wall
        print(f"two dispatchers: {shares} sent in {wall:.1f} s = {rate:8.0f} messages/s")
        for _elapsed, _sent, report in outcomes:
            print(f"  ({report})")
        print(f"ratio two dispatchers / server alone: {rate / ceiling:.2f}")
        rows.append(
            Row(
                f"dispatcher, two at once, {threads} senders each",
                rate,
                "msg/s",
                ceiling,
                target=TARGET,
                note="no duplicates" if not problems else "PROBLEM: " + "; ".join(problems),
            )
        )
        print(
            "  no duplicates: every message received once, all sent"
            if not problems
            else "  PROBLEM: " + "; ".join(problems)
        )
    ask("stop")
    server.join(timeout=5)
    return rows


def add_options(parser: argparse.ArgumentParser) -> None:
    """run_all's options for this benchmark (named apart from the HTTP benchmarks')."""
    parser.add_argument("--dispatch-messages", type=int, default=10_000)
    parser.add_argument("--dispatch-senders", type=int, default=8)


@benchmark("dispatch", options=add_options)
def run(args) -> list:
    """The SMS dispatcher, one and two at once, against the twilio SDK alone (issue #19)."""
    return measure(
        argparse.Namespace(
            database_url=args.database,
            messages=args.dispatch_messages,
            concurrency=args.dispatch_senders,
            skip_two=False,
            profile=None,
        )
    )


if __name__ == "__main__":
    main()
