"""Time the completion analytics against the floor (the same SQL sent straight to the database).

    python benchmarks/completion_analytics.py --database postgresql://postgres@127.0.0.1:5432/DB \\
        [--patients 100000] [--repeat 5]

Makes one site with `--patients` patients (bulk inserts, skipped when the site already has
them), each with five timepoints a month apart: an invitation text for each, a reminder for
one in three, about 60% answered, the rest expired or (the last) still open. Answered
invitations have both questionnaires' responses, one in ten given on a clinic tablet, one in
ten on paper and one in ten by phone; the tablet's invitations have a used tablet code. Then
prints, for each way of working every figure of the page out (from the invitations,
`scanned_figures`, the page before; from the kept counts, `completion_figures`, the page
now), the median time, the floor's and how many queries it took, and whether both gave the
same figures."""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from _common import captured_sql, machine, make_app, median_seconds, raw_sql_runner
from registry import Row, benchmark
from sqlalchemy import func, insert, select, text, update

from survey.domain import completion_counts
from survey.domain.analytics import (
    Figures,
    completion_figures,
    refresh_invitation_facts,
    scanned_figures,
)
from survey.domain.staff_setup import create_site
from survey.domain.summaries import follow_up_figures
from survey.extensions import db
from survey.models import (
    Invitation,
    Message,
    Patient,
    PatientSummary,
    Response,
    Role,
    Site,
    TabletHandoff,
    User,
    utcnow,
)
from survey.passwords import hash_password

SITE = "Analytics Bench Clinic"
BATCH = 5_000
# The way of answering by the invitation's id, last digit: 7 tablet, 8 paper, 9 phone.
MODES = ("web",) * 7 + ("tablet", "paper", "phone")


def populate(site: Site, count: int, coordinator: User) -> None:
    have = db.session.scalar(select(func.count(Patient.id)).where(Patient.site_id == site.id))
    if have >= count:
        return
    if db.engine.dialect.name == "postgresql":
        populate_in_sql(site, have, count, coordinator)
        return
    rng = random.Random(7)  # noqa: S311 (benchmark data, not a secret)
    start = datetime.now(UTC) - timedelta(days=200)
    first_id = (db.session.scalar(select(func.max(Patient.id))) or 0) + 1
    for first in range(have, count, BATCH):
        numbers = range(first, min(first + BATCH, count))
        ids = db.session.scalars(
            insert(Patient).returning(Patient.id),
            [
                {
                    "site_id": site.id,
                    "reference": f"AN-{n:06d}",
                    "phone": "+34612345678",
                    "language": ("es", "en", "tr")[n % 3],
                    "timezone": "Europe/Madrid",
                    "status": "active",
                    "created_at": start,
                }
                for n in numbers
            ],
        ).all()
        db.session.execute(insert(PatientSummary), [{"patient_id": pid} for pid in ids])
        invitations = []
        for pid in ids:
            for step in range(5):
                opens = start + timedelta(days=30 * step)
                answered = rng.random() < 0.6 and step < 4
                invitations.append(
                    {
                        "patient_id": pid,
                        "timepoint": f"t{step}",
                        "instrument_ids": ["qolaf-q", "ccis"],
                        "opens_at": opens,
                        "expires_at": opens + timedelta(days=14 if step < 4 else 400),
                        "status": "completed" if answered else "open",
                        "started_at": opens + timedelta(hours=1) if answered else None,
                        "completed_at": opens + timedelta(hours=rng.randint(1, 90))
                        if answered
                        else None,
                        "created_at": opens,
                    }
                )
        rows = db.session.execute(
            insert(Invitation).returning(
                Invitation.id, Invitation.patient_id, Invitation.opens_at, Invitation.completed_at
            ),
            invitations,
        ).all()
        messages, responses, handoffs = [], [], []
        for invitation_id, pid, opens, completed_at in rows:
            messages.append(_text(invitation_id, pid, "invitation", opens))
            if invitation_id % 3 == 0:
                messages.append(_text(invitation_id, pid, "reminder", opens + timedelta(days=3)))
            mode = MODES[invitation_id % 10]
            if mode == "tablet":
                handoffs.append(_handoff(invitation_id, opens, coordinator))
            if completed_at is not None:
                responses += [_response(invitation_id, pid, i, completed_at, mode) for i in (0, 1)]
        db.session.execute(insert(Message), messages)
        db.session.execute(insert(Response), responses)
        db.session.execute(insert(TabletHandoff), handoffs)
        db.session.commit()
        print(f"  {min(first + BATCH, count)} patients", flush=True)
    keep_what_listeners_keep(first_id)


# The same data as `populate` writes row by row, written by PostgreSQL itself (about a
# minute at 100,000 patients where the rows built in Python took hours on a shared machine):
# answered and how long it took drawn by `random()` after `setseed`, so reproducible.
POPULATE_SQL = (
    """
    INSERT INTO patients (site_id, reference, phone, language, timezone, status, channel,
                          created_at)
    SELECT :site, 'AN-' || lpad(n::text, 6, '0'), '+34612345678',
           (ARRAY['es', 'en', 'tr'])[n % 3 + 1], 'Europe/Madrid', 'active', 'sms', :start
    FROM generate_series(:have, :count - 1) AS n
    """,
    """
    INSERT INTO patient_summaries (patient_id)
    SELECT id FROM patients WHERE site_id = :site AND id >= :first
    """,
    """
    INSERT INTO invitations (patient_id, timepoint, instrument_ids, opens_at, expires_at,
                             status, started_at, completed_at, created_at)
    SELECT p.id, 't' || step, '["qolaf-q", "ccis"]', opens,
           opens + make_interval(days => CASE WHEN step < 4 THEN 14 ELSE 400 END),
           CASE WHEN answered THEN 'completed' ELSE 'open' END,
           CASE WHEN answered THEN opens + interval '1 hour' END,
           CASE WHEN answered THEN opens + make_interval(hours => hours) END,
           opens
    FROM patients AS p
    CROSS JOIN generate_series(0, 4) AS step
    CROSS JOIN LATERAL (
        SELECT :start + make_interval(days => 30 * step) AS opens,
               step < 4 AND random() < 0.6 + 0 * p.id AS answered,
               1 + floor(random() * 90 + 0 * p.id)::int AS hours
    ) AS drawn
    WHERE p.site_id = :site AND p.id >= :first
    ORDER BY p.id, step
    """,
    """
    INSERT INTO messages (patient_id, invitation_id, kind, status, due_at, sent_at, attempts,
                          created_at)
    SELECT i.patient_id, i.id, kind, 'delivered', i.opens_at + gap, i.opens_at + gap, 1,
           i.opens_at + gap
    FROM invitations AS i
    JOIN patients AS p ON p.id = i.patient_id
    CROSS JOIN (VALUES ('invitation', interval '0'), ('reminder', interval '3 days'))
        AS texts (kind, gap)
    WHERE p.site_id = :site AND p.id >= :first AND (kind = 'invitation' OR i.id % 3 = 0)
    """,
    """
    INSERT INTO tablet_handoffs (invitation_id, code_hash, created_at, expires_at,
                                 created_by_id, used_at)
    SELECT i.id, lpad(to_hex(i.id), 64, '0'), i.opens_at, i.opens_at + interval '15 minutes',
           :coordinator, i.opens_at + interval '1 minute'
    FROM invitations AS i
    JOIN patients AS p ON p.id = i.patient_id
    WHERE p.site_id = :site AND p.id >= :first AND i.id % 10 = 7
    """,
    """
    INSERT INTO responses (invitation_id, patient_id, instrument_id, instrument_version,
                           wording_version, wording_hash, wording_status, language, total,
                           subscales, submitted_at, mode)
    SELECT i.id, i.patient_id, instrument, '1', '1', repeat('0', 64), 'benchmark', 'es', 20,
           '{}', i.completed_at, (ARRAY['web', 'web', 'web', 'web', 'web', 'web', 'web',
                                        'tablet', 'paper', 'phone'])[i.id % 10 + 1]
    FROM invitations AS i
    JOIN patients AS p ON p.id = i.patient_id
    CROSS JOIN (VALUES ('qolaf-q'), ('ccis')) AS instruments (instrument)
    WHERE p.site_id = :site AND p.id >= :first AND i.status = 'completed'
    """,
)


def populate_in_sql(site: Site, have: int, count: int, coordinator: User) -> None:
    """`populate` on PostgreSQL, statement by statement, then the facts each invitation
    keeps worked out as the migration fills them."""
    first = (db.session.scalar(select(func.max(Patient.id))) or 0) + 1
    values = {
        "site": site.id,
        "have": have,
        "count": count,
        "first": first,
        "start": datetime.now(UTC) - timedelta(days=200),
        "coordinator": coordinator.id,
    }
    db.session.execute(text("SELECT setseed(0.7)"))
    for statement in POPULATE_SQL:
        db.session.execute(text(statement), values)
        print(f"  {statement.split()[2]}", flush=True)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    keep_what_listeners_keep(first)
    print(f"  {count - have} patients", flush=True)


def keep_what_listeners_keep(first_patient_id: int) -> None:
    """Bulk inserts pass the session's listeners by: the patients' follow-up (next due,
    overdue and second missed timepoint, so the clinic list can be measured on this data too,
    `clinic_pages.py --site SITE`), then every invitation's facts and the analytics' counts
    (`completion_counts.rebuild`, what the migration that made the counts runs too)."""
    db.session.execute(
        update(PatientSummary)
        .where(PatientSummary.patient_id >= first_patient_id)
        .values(**follow_up_figures(utcnow()))
        .execution_options(synchronize_session=False)
    )
    started = time.perf_counter()
    refresh_invitation_facts(db.session)
    db.session.commit()
    print(f"  facts and counts kept: {time.perf_counter() - started:.1f} s", flush=True)


def _text(invitation_id, patient_id, kind, at) -> dict:
    return {
        "patient_id": patient_id,
        "invitation_id": invitation_id,
        "kind": kind,
        "status": "delivered",
        "due_at": at,
        "sent_at": at,
        "attempts": 1,
        "created_at": at,
    }


def _response(invitation_id, patient_id, which, at, mode) -> dict:
    return {
        "invitation_id": invitation_id,
        "patient_id": patient_id,
        "instrument_id": ("qolaf-q", "ccis")[which],
        "instrument_version": "1",
        "wording_version": "1",
        "wording_hash": "0" * 64,
        "wording_status": "benchmark",
        "language": "es",
        "total": 20,
        "subscales": {},
        "submitted_at": at,
        "mode": mode,
    }


def _handoff(invitation_id, opens, coordinator) -> dict:
    return {
        "invitation_id": invitation_id,
        "code_hash": f"{invitation_id:064x}",
        "created_at": opens,
        "expires_at": opens + timedelta(minutes=15),
        "created_by_id": coordinator.id,
        "used_at": opens + timedelta(minutes=1),
    }


def same_figures(a: Figures, b: Figures) -> bool:
    """Equal, the median to within float rounding (the kept durations are floats)."""
    if a.median_hours_to_complete is not None and b.median_hours_to_complete is not None:
        if not math.isclose(a.median_hours_to_complete, b.median_hours_to_complete, rel_tol=1e-9):
            return False
        a = replace(a, median_hours_to_complete=b.median_hours_to_complete)
    return a == b


# The ways of working the figures out, timed in one run on the same data: from the
# invitations (`scanned_figures`, the page before this round: eight aggregates over a
# materialised CTE) and from the kept counts the page reads now.
SCAN, KEPT = "scan of the invitations (before)", "kept counts (now)"
WAYS = {
    SCAN: lambda site_id, now: scanned_figures(db.session, [site_id], now),
    KEPT: lambda site_id, now: completion_figures(db.session, [site_id], now),
}


def measure(database: str, patients: int, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Load the site (when it has fewer patients) and time each way of working the figures
    out: {way: (function seconds, floor seconds, queries)}, printing what they were measured
    on and whether every way gave the same figures."""
    app = make_app(database)
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.name == SITE))
        if site is None:
            site = create_site(db.session, SITE, "Europe/Madrid", "es", country="ES")
            db.session.commit()
        admin = db.session.scalar(select(User).where(User.email == "bench-analytics@bench.example"))
        if admin is None:
            admin = User(
                email="bench-analytics@bench.example",
                password_hash=hash_password("benchmark passphrase, not a secret"),
                role=Role.ADMIN,
                sites=[site],
            )
            db.session.add(admin)
            db.session.commit()
        populate(site, patients, admin)
        # Fresh statistics, as autovacuum would gather them in time: straight after a bulk
        # load PostgreSQL still thinks the tables are nearly empty, and plans nested loops
        # that took over five minutes per query at 20,000 patients (0.5-0.7 s once analysed).
        # And vacuumed, as autovacuum does after inserts, so that index-only scans (the
        # median's) need not visit the table: straight after the load, the median read
        # 120,000 table rows too (132 ms instead of the index alone).
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM (ANALYZE)")
                )
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        now = utcnow()
        site_id = site.id  # read before counting: after the commit it would be a query of its own
        results, figures = {}, {}
        for name, way in WAYS.items():
            with captured_sql(db.engine) as statements:
                figures[name] = way(site_id, now)
            db.session.rollback()
            floor = median_seconds(raw_sql_runner(db.engine, statements), repeat)

            def call(way=way):
                way(site_id, now)
                db.session.rollback()

            results[name] = (median_seconds(call, repeat), floor, len(statements))
        kept = figures[KEPT]
        print(f"machine: {machine()}")
        print(
            f"{patients} patients, {kept.totals.invitations} invitations, "
            f"rate {kept.totals.rate:.3f}, median {kept.median_hours_to_complete:.1f} h, "
            f"{kept.patients_missing_two} patients missing two"
        )
        by_mode = ", ".join(
            f"{tally.key} {tally.completed}/{tally.invitations}"
            for tally in kept.breakdowns["mode"]
        )
        print(f"completed/invitations by way of answering: {by_mode}")
        print(f"identical figures: {all(same_figures(kept, f) for f in figures.values())}")
        print(f"recount of one invitation just answered: {recount_ms(site_id, repeat):.1f} ms")
    return results


def recount_ms(site_id: int, repeat: int) -> float:
    """What keeping the counts adds to a write: the median time of `recount` for one open
    invitation just completed (moving it between groups), each rolled back."""
    open_ones = db.session.scalars(
        select(Invitation.id)
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(Patient.site_id == site_id, Invitation.status == "open")
        .order_by(Invitation.id)
        .limit(repeat + 1)
    ).all()
    db.session.rollback()
    pending = list(open_ones)

    def one():
        invitation_id = pending.pop()
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(status="completed", completed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        started = time.perf_counter()
        completion_counts.recount(db.session, [invitation_id])
        took = time.perf_counter() - started
        db.session.rollback()
        return took

    return statistics.median(one() for _ in range(len(open_ones))) * 1e3


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--analytics-database", help="PostgreSQL URL for the analytics site (loaded if short)"
    )
    parser.add_argument("--analytics-patients", type=int, default=100_000)
    parser.add_argument("--analytics-repeat", type=int, default=3)


@benchmark("analytics", options=_options)
def run(args) -> list[Row]:
    """Completion analytics (every figure) each way, against its SQL through the driver."""
    if not args.analytics_database:
        print("skipped: give --analytics-database")
        return []
    results = measure(args.analytics_database, args.analytics_patients, args.analytics_repeat)
    return [
        Row(
            f"completion analytics, {args.analytics_patients:,} patients: {name}",
            function * 1e3,
            "ms",
            bare_floor=floor * 1e3,
            target=1.5 if name == KEPT else None,
            higher_is_better=False,
            note=f"{queries} queries; floor: the same SQL through psycopg",
        )
        for name, (function, floor, queries) in results.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.database, args.patients, args.repeat)
    print("| way | queries | function ms | floor ms | function/floor |")
    print("|---|---:|---:|---:|---:|")
    for name, (function, floor, queries) in results.items():
        print(
            f"| {name} | {queries} | {function * 1e3:.1f} | {floor * 1e3:.1f} "
            f"| {function / floor:.2f} |"
        )


if __name__ == "__main__":
    main()
