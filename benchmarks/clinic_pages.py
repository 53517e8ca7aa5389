"""Time the patient list and the patient page against the floor, on one or more databases.

    python benchmarks/clinic_pages.py \
        --database postgresql://postgres@127.0.0.1:5432/bench_data_10k \
        --database postgresql://postgres@127.0.0.1:5432/bench_data_100k

Seed each database first (`flask --app wsgi benchmark seed --patients N --site "Bench Clinic"`),
or load it with `completion_analytics.py` and give `--score-summaries` once (that loader's
responses all total 20 and leave the summaries' scores empty: totals are drawn and every
summary worked out again, set-based). For every case it prints the median time of the query
function (`listing.patient_page`, or `results.patient_course` for the patient page), of the
whole signed-in request through the test client, and of the floor: the same statements the
function sent, replayed straight through the driver; beside each, the CPU time this process
spent (`time.process_time`: the Python side, which neither waiting for PostgreSQL nor other
processes on a shared machine count), and with `--explain` PostgreSQL's own execution time
of the statements. With two databases it also prints how much slower the second is than the
first. Targets (issue #7, #19): function at most 1.5x the floor; the larger database at most
1.5x the smaller one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    captured_sql,
    clinician_of,
    machine,
    make_app,
    raw_sql_runner,
    signed_in_client,
)
from registry import Row, benchmark  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from survey.clinic.filters import parse_filters  # noqa: E402
from survey.clinic.listing import patient_page  # noqa: E402
from survey.clinic.results import patient_course  # noqa: E402
from survey.domain.summaries import refresh_summaries  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.models import Patient, Site, utcnow  # noqa: E402

# Every sort the list offers (survey/clinic/filters.py: SORTS) and every filter, each alone;
# `{site}` is the site's id.
LIST_CASES = {
    "list, default (by reference)": "",
    "list, by reference, last first": "sort=-reference",
    "list, page 100 by reference": "page=100",
    "list, page 1,000 by reference (none at 10,000 patients)": "page=1000",
    "list, sort by latest QoLAF-Q": "sort=-qolaf",
    "list, sort by QoLAF-Q change from baseline (worst first)": "sort=-qolaf_change",
    "list, sort by QoLAF-Q change from previous (worst first)": "sort=-qolaf_change_previous",
    "list, sort by latest CCIS": "sort=-ccis",
    "list, sort by CCIS change (worst first)": "sort=-ccis_change",
    "list, sort by CCIS change (best first)": "sort=ccis_change",
    "list, sort by CCIS change from previous (worst first)": "sort=-ccis_change_previous",
    "list, sort by last response": "sort=-last_response",
    "list, sort by next due": "sort=next_due",
    "list, sort by next due, last first": "sort=-next_due",
    "list, overdue filter": "overdue=1",
    "list, worsened filter": "worsened=1",
    "list, high-impact band": "band=high",
    "list, language filter": "language=es",
    "list, site filter": "site={site}",
    "list, reference search": "q=an-00012",
}


@dataclass(frozen=True)
class Timed:
    """One case's medians: wall and CPU (this process) seconds of the function, the request
    and the floor, PostgreSQL's execution time of the statements (with `--explain`) and how
    many statements the function sent."""

    function: float
    request: float
    floor: float
    function_cpu: float
    request_cpu: float
    floor_cpu: float
    database: float | None
    statements: int


def median_times(*actions: Callable[[], object], repeat: int) -> list[tuple[float, float]]:
    """Each action's median wall and CPU seconds over `repeat` rounds, after one round that
    warms the caches; each round runs every action once, in turn, so that a shared machine's
    load, which moves from second to second, falls on all of them alike. CPU is
    `time.process_time`: this process only, so it moves with the code, not the load."""
    for action in actions:
        action()
    walls: list[list[float]] = [[] for _ in actions]
    cpus: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, wall_times, cpu_times in zip(actions, walls, cpus, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            action()
            cpu_times.append(time.process_time() - cpu)
            wall_times.append(time.perf_counter() - wall)
    return [
        (statistics.median(wall_times), statistics.median(cpu_times))
        for wall_times, cpu_times in zip(walls, cpus, strict=True)
    ]


# The analytics loader (completion_analytics.py) writes every response with a total of 20 and
# leaves the summaries' scores empty: draw totals over each questionnaire's range, reproducibly.
DRAW_TOTALS = """
    UPDATE responses SET total = CASE instrument_id
        WHEN 'qolaf-q' THEN 14 + floor(random() * 57)::int
        ELSE floor(random() * 21)::int END
    WHERE patient_id IN (SELECT id FROM patients WHERE site_id = :site)
"""
SUMMARIES_AT_ONCE = 5_000


def score_summaries(site_name: str) -> None:
    """Totals drawn for the site's responses, then every summary of the site worked out again
    (`summaries.refresh_summaries`, set-based, in ranges of patients), then vacuumed and
    analysed as autovacuum would in time."""
    site_id = db.session.scalar(select(Site.id).where(Site.name == site_name))
    if site_id is None:
        raise SystemExit(f"There is no site called {site_name!r}: load one first.")
    started = time.perf_counter()
    db.session.execute(text("SELECT setseed(0.19)"))
    db.session.execute(text(DRAW_TOTALS), {"site": site_id})
    db.session.commit()
    first, last = db.session.execute(
        select(func.min(Patient.id), func.max(Patient.id)).where(Patient.site_id == site_id)
    ).one()
    for start in range(first, last + 1, SUMMARIES_AT_ONCE):
        refresh_summaries(db.session, start, min(start + SUMMARIES_AT_ONCE - 1, last))
        db.session.commit()
        print(f"  summaries to patient {min(start + SUMMARIES_AT_ONCE - 1, last)}", flush=True)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))
    print(f"  scored in {time.perf_counter() - started:.0f} s", flush=True)


def measure(database_url: str, site: str, repeat: int, explain: bool = False) -> dict[str, Timed]:
    """case -> its medians (see `Timed`)."""
    app = make_app(database_url)
    results = {}
    with app.app_context():
        user = clinician_of(site)
        # The user and their sites read once, as a request's session check reads them, and
        # kept out of the session: otherwise every call, after its rollback, would read them
        # again (two statements and their objects, in the function and the floor alike).
        site_id = user.site_ids[0]
        for kept in (user, *user.sites):
            db.session.expunge(kept)
        print(
            f"\n{database_url}: {db.session.scalar(select(func.count(Patient.id))):,} patients;"
            f" {machine()}"
        )
        client = signed_in_client(app)
        config = app.config
        for name, query in LIST_CASES.items():
            print(f"{name} (function / request / floor):", flush=True)
            query = query.format(site=site_id)
            args = dict(part.split("=") for part in query.split("&") if part)
            filters = parse_filters(args, user, tuple(config["LANGUAGES"]))
            if filters.ignored:
                raise SystemExit(f"{name}: {query} not understood ({filters.ignored})")

            def function(filters=filters):
                return patient_page(
                    db.session,
                    user,
                    filters,
                    now=utcnow(),
                    threshold=3,
                    grace=timedelta(days=7),
                    page_size=50,
                )

            results[name] = _time(
                app, function, lambda q=query: client.get(f"/clinic/?{q}"), repeat, explain
            )
        # A patient from the middle of the list, with all five timepoints answered.
        middle = db.session.scalar(
            select(Patient.id)
            .order_by(Patient.id)
            .offset(db.session.scalar(select(func.count(Patient.id))) // 2 + 1)
            .limit(1)
        )
        patient = db.session.get(Patient, middle)
        print("patient page (function / request / floor):", flush=True)
        results["patient page"] = _time(
            app,
            lambda: patient_course(db.session, patient, now=utcnow()),
            lambda: client.get(f"/clinic/patients/{middle}"),
            repeat,
            explain,
        )
    return results


def _time(app, function, request, repeat, explain=False) -> Timed:
    with captured_sql(db.engine) as statements:
        function()
    db.session.rollback()
    # The floor replays every statement the function sent, an UPDATE that moves stale
    # next-due steps included.
    replay = raw_sql_runner(db.engine, statements, WHAT_THE_LIST_SENDS)
    database = _explain(statements) if explain else None

    def call():
        function()
        db.session.rollback()  # what a request ends with; keeps the ORM from caching rows

    answer = request()
    if answer.status_code != 200:
        raise SystemExit(f"the request answered {answer.status_code}")
    (function_wall, function_cpu), (request_wall, request_cpu), floor = median_times(
        call, request, replay, repeat=repeat
    )
    timed = Timed(
        function_wall,
        request_wall,
        floor[0],
        function_cpu,
        request_cpu,
        floor[1],
        database,
        len(statements),
    )
    # Printed as measured too, so that a run cut short still says something.
    print(
        "  "
        + " / ".join(f"{value * 1e3:.1f} ms" for value in (function_wall, request_wall, floor[0]))
        + "; CPU "
        + " / ".join(f"{value * 1e3:.1f} ms" for value in (function_cpu, request_cpu, floor[1]))
        + (f"; database {database * 1e3:.2f} ms" if database is not None else "")
        + f"; {len(statements)} statements",
        flush=True,
    )
    return timed


WHAT_THE_LIST_SENDS = ("SELECT", "WITH", "UPDATE")


def _explain(statements) -> float:
    """Print each statement's execution time and plan top as PostgreSQL measures it
    (EXPLAIN ANALYZE, rolled back): far less disturbed by a loaded machine than wall time.
    Returns their sum, in seconds."""
    connection = db.engine.raw_connection()
    total = 0.0
    try:
        cursor = connection.cursor()
        for sql, params in statements:
            if not sql.lstrip().upper().startswith(WHAT_THE_LIST_SENDS):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
            took = next((line for line in plan if line.startswith("Execution Time")), "?")
            if took != "?":
                total += float(took.split(":")[1].split()[0]) / 1e3
            scans = sorted(
                {
                    line.strip().split(" on ")[0].lstrip("-> ")
                    + " on "
                    + line.split(" on ")[1].split()[0]
                    for line in plan
                    if " on " in line and "Scan" in line
                }
            )
            print(f"    {sql.split()[0]}: {took}; {'; '.join(scans)}", flush=True)
        connection.rollback()
    finally:
        connection.close()
    return total


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clinic-database",
        action="append",
        help="a seeded database for the clinic list (repeat, smaller first, for growth)",
    )
    parser.add_argument("--clinic-site", default="Bench Clinic")
    parser.add_argument("--clinic-repeat", type=int, default=3)


@benchmark("clinic", options=_options)
def run(args) -> list[Row]:
    """The clinic list and patient page against their SQL through the driver, and growth."""
    if not args.clinic_database:
        print("skipped: give --clinic-database (seeded; twice for growth)")
        return []
    runs = [measure(url, args.clinic_site, args.clinic_repeat) for url in args.clinic_database]
    rows = []
    for url, results in zip(args.clinic_database, runs, strict=True):
        size = url.rsplit("/", 1)[-1]
        for name, timed in results.items():
            rows.append(
                Row(
                    f"{name} ({size})",
                    timed.function * 1e3,
                    "ms",
                    bare_floor=timed.floor * 1e3,
                    target=1.5,
                    higher_is_better=False,
                )
            )
    if len(runs) > 1:
        for name in runs[0]:
            growth = runs[-1][name].function / runs[0][name].function
            rows.append(
                Row(
                    f"{name}, growth",
                    growth,
                    "x",
                    bare_floor=1.0,
                    target=1.5,
                    higher_is_better=False,
                    note="growth: ratio against no growth (1.0)",
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database",
        action="append",
        required=True,
        help="SQLAlchemy URL of a seeded database; repeat to compare sizes",
    )
    parser.add_argument("--site", default="Bench Clinic")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument(
        "--explain", action="store_true", help="also print EXPLAIN ANALYZE of each statement"
    )
    parser.add_argument(
        "--score-summaries",
        action="store_true",
        help="first draw totals and work the summaries out again (completion_analytics.py data)",
    )
    parser.add_argument("--only", action="append", help="only the cases whose name has this")
    options = parser.parse_args()
    if options.only:
        for name in [*LIST_CASES]:
            if not any(part in name for part in options.only):
                del LIST_CASES[name]
    if options.score_summaries:
        for url in options.database:
            with make_app(url).app_context():
                score_summaries(options.site)
    runs = [measure(url, options.site, options.repeat, options.explain) for url in options.database]
    for url, results in zip(options.database, runs, strict=True):
        print(f"\n## {url}\n")
        print(
            "| case | function ms | request ms | floor ms | database ms | function/floor "
            "| CPU function / request / floor ms | statements |"
        )
        print("|---|---:|---:|---:|---:|---:|---|---:|")
        for name, t in results.items():
            database = f"{t.database * 1e3:.2f}" if t.database is not None else "—"
            print(
                f"| {name} | {t.function * 1e3:.1f} | {t.request * 1e3:.1f} "
                f"| {t.floor * 1e3:.1f} | {database} | {t.function / t.floor:.2f} "
                f"| {t.function_cpu * 1e3:.1f} / {t.request_cpu * 1e3:.1f} "
                f"/ {t.floor_cpu * 1e3:.1f} | {t.statements} |"
            )
    if len(runs) > 1:
        print(f"\n## growth: {options.database[-1]} against {options.database[0]}\n")
        print("| case | function | request | floor | database |")
        print("|---|---:|---:|---:|---:|")
        for name in runs[0]:
            first, last = runs[0][name], runs[-1][name]
            database = "—"
            if first.database and last.database:
                database = f"{last.database / first.database:.2f}x"
            print(
                f"| {name} | {last.function / first.function:.2f}x "
                f"| {last.request / first.request:.2f}x | {last.floor / first.floor:.2f}x "
                f"| {database} |"
            )


if __name__ == "__main__":
    main()
