"""Patient submits per second under load, against two insert-and-commit floors in the same run.

    python benchmarks/submit_throughput.py [--patients 3000] [--seconds 15] [--workers N]
    python benchmarks/run_all.py --only submit     (the same, as a row of the summary table)

Patients are invited in a scratch schema; each opens their link and sends page 1 through the
server before the clock starts. wrk then posts every patient's last page with "Send my answers"
(which saves the page, scores both questionnaires, stores them and closes the invitation), one
patient per request, as fast as the server takes them. Two floors, each measured just before and
just after on servers started with the same gunicorn settings against the same schema:
- bare: POST /commit of benchmarks/bare_app.py (plain Flask, one psycopg connection per thread,
  one INSERT and COMMIT, no middleware at all);
- middleware: POST /_bench/commit of the service itself (benchmarks/floor.py: the same INSERT
  and COMMIT through the session, CSRF exemption, security headers, Babel, SQLAlchemy).
Target: submits/s at least 0.2 of the bare floor's requests/s (issue #19)."""

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or from run_all
import harness  # noqa: E402
from registry import Row, benchmark  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from survey import config  # noqa: E402
from survey.models import Invitation, InvitationStatus, Response  # noqa: E402

TARGET = 0.2
WARM_UP = 400  # patients who submit before the measured run
WARM_UP_SECONDS = 15


def completed(url: str) -> tuple[int, int]:
    """Completed invitations and stored responses in the scratch schema."""
    engine = create_engine(config.database_uri(None, url))
    with engine.connect() as connection:
        invitations = connection.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.status == InvitationStatus.COMPLETED)
        )
        responses = connection.scalar(select(func.count()).select_from(Response))
    engine.dispose()
    return invitations, responses


def last_page_post(session: harness.OpenSession) -> str:
    """One line of benchmarks/wrk/submit.lua's input: the cookie, a tab, the form body."""
    form = {"csrf_token": session.csrf, "action": "next", **session.last_page}
    return f"{session.cookie}\t{urlencode(form)}\n"


def postgresql_version(url: str) -> str:
    engine = create_engine(config.database_uri(None, url))
    with engine.connect() as connection:
        version = connection.scalar(text("SHOW server_version"))
    engine.dispose()
    return version


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=3000, help="invited before the submit run")


@benchmark("submit", options=options)
def run(args: argparse.Namespace) -> list[Row]:
    """The final patient submit under wrk, against the bare and middleware commit floors."""
    with harness.scratch_schema(args.database) as url:
        print(f"machine: {harness.machine()}; PostgreSQL {postgresql_version(url)}")
        print(harness.server_line(args))
        tokens = harness.invite_patients(url, args.patients)
        with harness.server(url, args) as base, harness.bare_server(url, args) as bare:
            sessions = harness.open_sessions(base, tokens)
            folder = Path(tempfile.mkdtemp(prefix="bench-submit-"))
            # Every worker's first submits build and compile what later ones reuse (the
            # summary statement, the triage rules, the catalogs): on a shared 2-CPU machine
            # that took most of a short run, so some patients submit first, unmeasured.
            warm, prepared = folder / "warm-up.tsv", folder / "patients.tsv"
            warm.write_text("".join(last_page_post(s) for s in sessions[:WARM_UP]))
            prepared.write_text("".join(last_page_post(s) for s in sessions[WARM_UP:]))
            warm_run = harness.wrk(
                base,
                "/survey/2",
                args,
                "submit.lua",
                str(warm),
                str(args.wrk_threads),
                seconds=WARM_UP_SECONDS,
            )
            bare_before = harness.wrk(bare, "/commit", args, "post.lua")
            before = harness.wrk(base, "/_bench/commit", args, "post.lua")
            submits = harness.wrk(
                base, "/survey/2", args, "submit.lua", str(prepared), str(args.wrk_threads)
            )
            after = harness.wrk(base, "/_bench/commit", args, "post.lua")
            bare_after = harness.wrk(bare, "/commit", args, "post.lua")
        stored_invitations, stored_responses = completed(url)

    if submits["exhausted"]:
        raise SystemExit(
            f"only {args.patients - WARM_UP} patients for {submits['requests']} submits: "
            "run again with more --patients"
        )
    for floor_run in (bare_before, before, after, bare_after):
        if floor_run["bad"] or floor_run["errors"]:
            raise SystemExit(f"failed floor requests: {floor_run}")
    if submits["bad"] or submits["errors"]:
        raise SystemExit(f"failed submits: {submits}")
    # Every submit wrk saw answered must be in the database (a 303 that stored nothing is no
    # submit); the database may hold a few more, answered after wrk stopped counting.
    assert stored_responses == 2 * stored_invitations, (stored_invitations, stored_responses)
    # A warm-up that ran out of patients re-posted its last one (stored once, counted again).
    answered = submits["requests"] + warm_run["requests"] - warm_run["exhausted"]
    assert stored_invitations >= answered, (stored_invitations, submits, warm_run)
    bare_floor = (bare_before["rps"] + bare_after["rps"]) / 2
    floor = (before["rps"] + after["rps"]) / 2
    print(harness.describe("bare floor: commit before", bare_before))
    print(harness.describe("middleware floor: before", before))
    print(harness.describe("patient submit", submits))
    print(harness.describe("middleware floor: after", after))
    print(harness.describe("bare floor: commit after", bare_after))
    print(
        f"stored: {stored_invitations} completed invitations, {stored_responses} responses "
        f"for {warm_run['requests']} warm-up and {submits['requests']} measured submits "
        f"(answered in {submits['seconds']:.1f} s)"
    )
    row = Row(
        "patient submit",
        submits["rps"],
        "submits/s",
        bare_floor=bare_floor,
        middleware_floor=floor,
        target=TARGET,
        note=f"p50 {submits['p50_ms']:.0f} ms, p95 {submits['p95_ms']:.0f} ms",
    )
    print(
        f"submits/s {row.figure:.1f} / bare floor {bare_floor:.1f} = {row.ratio:.2f} "
        f"(target >= {TARGET}: {'met' if row.met else 'NOT met'}); "
        f"/ middleware floor {floor:.1f} = {row.middleware_ratio:.2f}"
    )
    print(f"wrk: {submits['command']}")
    return [row]


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0])
    options(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
