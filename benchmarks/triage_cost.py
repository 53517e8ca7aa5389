"""What triage adds to a patient's submit, and how fast the worklist and the load command are.

    python benchmarks/triage_cost.py --database postgresql://postgres@127.0.0.1:5432/DB \\
        [--patients 200] [--site "Bench Clinic"]

Makes `--patients` patients at the site, each with four answered timepoints (stored as a
submit stores them) and a fifth, open, whose two pages are saved. Then submits the fifth
timepoint of each, alternately with triage (as in production) and with triage replaced by a
no-op, and prints the median and 95th percentile of `submission.submit` for both: the
difference is what triage costs a patient (reading their history, applying the rules, one
item and one audit row). Then times the worklist page and `replayed_load` over the site."""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from _common import clinician_of, make_app, signed_in_client
from sqlalchemy import func, select

from survey.demo import answers_for_total
from survey.domain import submission
from survey.domain.enrolment import enrol_patient
from survey.domain.invitations import create_invitation
from survey.domain.responses import store_response
from survey.domain.triage.load import replayed_load
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import Site, TriageItem, utcnow

CCIS_ITEMS = ("solid", "liquid", "gas", "pad", "lifestyle")
# A course that relapses at the fifth timepoint for one patient in three.
HISTORY = [(51, (2, 2, 2, 2, 2)), (44, (1, 2, 2, 1, 1)), (35, (0, 1, 1, 0, 0)), (28, (0,) * 5)]


def prepare(site: Site, count: int, run: str) -> list[int]:
    """Patients with four answered timepoints and a fifth whose pages are saved."""
    qolaf, ccis = get_instrument("qolaf-q"), get_instrument("ccis")
    start = datetime.now(UTC) - timedelta(days=400)
    ready = []
    for number in range(count):
        patient = enrol_patient(
            db.session, site, f"TRIAGE-{run}-{number:05d}", "+34612345678", "es", None, None
        )
        for step, (qolaf_total, ccis_answers) in enumerate(HISTORY):
            at = start + timedelta(days=90 * step)
            invitation = create_invitation(db.session, patient, f"t{step}", opens_at=at)
            db.session.flush()
            store_response(
                db.session, invitation, qolaf, answers_for_total(qolaf, qolaf_total), "es", at
            )
            store_response(
                db.session,
                invitation,
                ccis,
                dict(zip(CCIS_ITEMS, ccis_answers, strict=True)),
                "es",
                at,
            )
        last = create_invitation(db.session, patient, "t4", opens_at=utcnow() - timedelta(hours=1))
        db.session.commit()
        relapse = number % 3 == 0
        submission.save_answers(
            db.session, last.id, "qolaf-q", answers_for_total(qolaf, 51 if relapse else 27)
        )
        answers = (2,) * 5 if relapse else (0,) * 5
        submission.save_answers(
            db.session, last.id, "ccis", dict(zip(CCIS_ITEMS, answers, strict=True))
        )
        ready.append(last.id)
    return ready


def timed_submits(invitation_ids: list[int]) -> dict[str, list[float]]:
    real = submission.triage_submitted
    times: dict[str, list[float]] = {"with triage": [], "without triage": []}
    for number, invitation_id in enumerate(invitation_ids):
        label = "with triage" if number % 2 == 0 else "without triage"
        submission.triage_submitted = real if number % 2 == 0 else (lambda *args: None)
        started = time.perf_counter()
        submission.submit(db.session, invitation_id, "es")
        times[label].append((time.perf_counter() - started) * 1000)
        db.session.expire_all()
    submission.triage_submitted = real
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--site", default="Bench Clinic")
    args = parser.parse_args()
    app = make_app(args.database)
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.name == args.site))
        if site is None:
            raise SystemExit(f"There is no site called {args.site!r}: add one first.")
        ids = prepare(site, args.patients, datetime.now(UTC).strftime("%H%M%S"))
        times = timed_submits(ids)
        for label, values in times.items():
            print(
                f"submit {label:<15} n={len(values):>4}  median {statistics.median(values):6.1f} ms"
                f"  p95 {p95(values):6.1f} ms"
            )
        items = db.session.scalar(select(func.count()).select_from(TriageItem))
        clinician_of(site.name)
        client = signed_in_client(app)
        page_times = []
        for _ in range(5):
            started = time.perf_counter()
            assert client.get("/clinic/worklist").status_code == 200
            page_times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(page_times)
        print(f"worklist page ({items} items at the site): median {median:.0f} ms")
        started = time.perf_counter()
        measured = replayed_load(db.session, [site.id])
        print(
            f"replayed_load: {measured.answered} timepoints of {measured.patients} patients in "
            f"{time.perf_counter() - started:.1f} s; alerting {measured.alerting:.1%}"
        )


if __name__ == "__main__":
    main()
