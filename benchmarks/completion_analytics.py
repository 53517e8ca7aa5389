"""Time the completion analytics against the floor (the same SQL sent straight to the database).

    python benchmarks/completion_analytics.py --database postgresql://postgres@127.0.0.1:5432/DB \\
        [--patients 100000] [--repeat 5]

Makes one site with `--patients` patients (bulk inserts, skipped when the site already has
them), each with five timepoints a month apart: an invitation text for each, a reminder for
one in three, about 60% answered, the rest expired or (the last) still open. Answered
invitations have both questionnaires' responses, one in ten given on a clinic tablet, one in
ten on paper and one in ten by phone; the tablet's invitations have a used tablet code. Then
prints the median time of `completion_figures` (every figure of the page) and of the floor,
and how many queries the figures took."""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from _common import captured_sql, machine, make_app, median_seconds, raw_sql_runner
from sqlalchemy import func, insert, select, text

from survey.analytics import completion_figures, refresh_invitation_facts
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
from survey.staff_setup import create_site

SITE = "Analytics Bench Clinic"
BATCH = 5_000
# The way of answering by the invitation's id, last digit: 7 tablet, 8 paper, 9 phone.
MODES = ("web",) * 7 + ("tablet", "paper", "phone")


def populate(site: Site, count: int, coordinator: User) -> None:
    have = db.session.scalar(select(func.count(Patient.id)).where(Patient.site_id == site.id))
    if have >= count:
        return
    rng = random.Random(7)  # noqa: S311 (benchmark data, not a secret)
    start = datetime.now(UTC) - timedelta(days=200)
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
        # Bulk inserts pass the session's listeners by: the facts each invitation keeps, as
        # the application writes them when texts go and answers arrive.
        refresh_invitation_facts(db.session, [row[0] for row in rows])
        db.session.commit()
        print(f"  {min(first + BATCH, count)} patients", flush=True)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = make_app(args.database)
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
        populate(site, args.patients, admin)
        # Fresh statistics, as autovacuum would gather them in time: straight after a bulk
        # load PostgreSQL still thinks the tables are nearly empty, and plans nested loops
        # that took over five minutes per query at 20,000 patients (0.5-0.7 s once analysed).
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        now = utcnow()
        site_id = site.id  # read before counting: after the commit it would be a query of its own
        with captured_sql(db.engine) as statements:
            figures = completion_figures(db.session, [site_id], now)
        db.session.rollback()
        floor = median_seconds(raw_sql_runner(db.engine, statements), args.repeat)

        def call():
            completion_figures(db.session, [site_id], now)
            db.session.rollback()

        function = median_seconds(call, args.repeat)
        print(f"machine: {machine()}")
        print(
            f"{args.patients} patients, {figures.totals.invitations} invitations, "
            f"rate {figures.totals.rate:.3f}, median {figures.median_hours_to_complete:.1f} h, "
            f"{len(statements)} queries"
        )
        by_mode = ", ".join(
            f"{tally.key} {tally.completed}/{tally.invitations}"
            for tally in figures.breakdowns["mode"]
        )
        print(f"completed/invitations by way of answering: {by_mode}")
        print("| case | function ms | floor ms | function/floor |")
        print("|---|---|---|---|")
        print(
            f"| completion_figures | {function * 1e3:.1f} | {floor * 1e3:.1f} "
            f"| {function / floor:.2f} |"
        )


if __name__ == "__main__":
    main()
