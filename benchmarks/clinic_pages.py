"""Time the patient list and the patient page against the floor, on one or more databases.

    python benchmarks/clinic_pages.py \
        --database postgresql://postgres@127.0.0.1:5432/bench_data_10k \
        --database postgresql://postgres@127.0.0.1:5432/bench_data_100k

Seed each database first (`flask --app wsgi benchmark seed --patients N --site "Bench Clinic"`).
For every case it prints the median time of the query function (`listing.patient_page`, or
`results.patient_course` for the patient page), of the whole signed-in request through the
test client, and of the floor: the same SELECTs the function sent, replayed straight through
the driver. With two databases it also prints how much slower the second is than the first.
Targets (issue #7): function at most 1.5x the floor; the larger database at most 1.5x the
smaller one.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    captured_sql,
    clinician_of,
    machine,
    make_app,
    median_seconds,
    raw_sql_runner,
    signed_in_client,
)
from registry import Row, benchmark  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from survey.clinic.filters import parse_filters  # noqa: E402
from survey.clinic.listing import patient_page  # noqa: E402
from survey.clinic.results import patient_course  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.models import Patient, utcnow  # noqa: E402

LIST_CASES = {
    "list, default (by reference)": "",
    "list, page 1,000 by reference": "page=1000",
    "list, sort by CCIS change (worst first)": "sort=-ccis_change",
    "list, sort by CCIS change (best first)": "sort=ccis_change",
    "list, sort by CCIS change from previous (worst first)": "sort=-ccis_change_previous",
    "list, sort by QoLAF-Q change from baseline (worst first)": "sort=-qolaf_change",
    "list, sort by latest QoLAF-Q": "sort=-qolaf",
    "list, sort by last response": "sort=-last_response",
    "list, sort by next due": "sort=next_due",
    "list, overdue filter": "overdue=1",
    "list, worsened filter": "worsened=1",
    "list, high-impact band": "band=high",
}


def measure(
    database_url: str, site: str, repeat: int, explain: bool = False
) -> dict[str, tuple[float, float, float]]:
    """case -> (function seconds, request seconds, floor seconds)."""
    app = make_app(database_url)
    results = {}
    with app.app_context():
        user = clinician_of(site)
        print(
            f"\n{database_url}: {db.session.scalar(select(func.count(Patient.id))):,} patients;"
            f" {machine()}"
        )
        client = signed_in_client(app)
        config = app.config
        for name, query in LIST_CASES.items():
            print(f"{name} (function / request / floor):", flush=True)
            args = dict(part.split("=") for part in query.split("&") if part)
            filters = parse_filters(args, user, tuple(config["LANGUAGES"]))

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


def _time(app, function, request, repeat, explain=False) -> tuple[float, float, float]:
    with captured_sql(db.engine) as statements:
        function()
    db.session.rollback()
    # The floor replays every statement the function sent, the UPDATE that moves stale
    # next-due steps before a sort by next due included.
    floor = median_seconds(raw_sql_runner(db.engine, statements, WHAT_THE_LIST_SENDS), repeat)
    if explain:
        _explain(statements)

    def call():
        function()
        db.session.rollback()  # what a request ends with; keeps the ORM from caching rows

    answer = request()
    if answer.status_code != 200:
        raise SystemExit(f"the request answered {answer.status_code}")
    figures = median_seconds(call, repeat), median_seconds(request, repeat), floor
    # Printed as measured too, so that a run cut short still says something.
    print("  " + " / ".join(f"{value * 1e3:.1f} ms" for value in figures), flush=True)
    return figures


WHAT_THE_LIST_SENDS = ("SELECT", "WITH", "UPDATE")


def _explain(statements) -> None:
    """Print each statement's execution time and plan top as PostgreSQL measures it
    (EXPLAIN ANALYZE, rolled back): far less disturbed by a loaded machine than wall time."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        for sql, params in statements:
            if not sql.lstrip().upper().startswith(WHAT_THE_LIST_SENDS):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
            took = next((line for line in plan if line.startswith("Execution Time")), "?")
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
        for name, (function, _request, floor) in results.items():
            rows.append(
                Row(
                    f"{name} ({size})",
                    function * 1e3,
                    "ms",
                    bare_floor=floor * 1e3,
                    target=1.5,
                    higher_is_better=False,
                )
            )
    if len(runs) > 1:
        for name in runs[0]:
            growth = runs[-1][name][0] / runs[0][name][0]
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
    options = parser.parse_args()
    runs = [measure(url, options.site, options.repeat, options.explain) for url in options.database]
    for url, results in zip(options.database, runs, strict=True):
        print(f"\n## {url}\n")
        print("| case | function ms | request ms | floor ms | function/floor | request/floor |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, (function, request, floor) in results.items():
            print(
                f"| {name} | {function * 1e3:.1f} | {request * 1e3:.1f} | {floor * 1e3:.1f} "
                f"| {function / floor:.2f} | {request / floor:.2f} |"
            )
    if len(runs) > 1:
        print(f"\n## growth: {options.database[-1]} against {options.database[0]}\n")
        print("| case | function | request | floor |")
        print("|---|---:|---:|---:|")
        for name in runs[0]:
            first, last = runs[0][name], runs[-1][name]
            print(
                f"| {name} | {last[0] / first[0]:.2f}x | {last[1] / first[1]:.2f}x "
                f"| {last[2] / first[2]:.2f}x |"
            )


if __name__ == "__main__":
    main()
