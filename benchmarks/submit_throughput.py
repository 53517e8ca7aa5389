"""Patient submits per second under load, against the insert-and-commit floor on the same server.

    python benchmarks/submit_throughput.py [--patients 3000] [--seconds 15] [--workers N]

Patients are invited in a scratch schema; each opens their link and sends page 1 through the
server before the clock starts. wrk then posts every patient's last page with "Send my answers"
(which saves the page, scores both questionnaires, stores them and closes the invitation), one
patient per request, as fast as the server takes them. The floor route (POST /_bench/commit,
one INSERT and COMMIT) is measured just before and just after on the same server.
Target: submits/s at least half the floor's requests/s."""

import tempfile
from pathlib import Path
from urllib.parse import urlencode

import harness
from sqlalchemy import create_engine, func, select, text

from survey import config
from survey.models import Invitation, InvitationStatus, Response

TARGET = 0.5


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


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3000, help="invited before the run")
    args = parser.parse_args()

    with harness.scratch_schema(args.database) as url:
        print(f"machine: {harness.machine()}; PostgreSQL {postgresql_version(url)}")
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads; "
            f"wrk: {args.wrk_threads} threads, {args.connections} connections, {args.seconds} s"
        )
        tokens = harness.invite_patients(url, args.patients)
        with harness.server(url, args) as base:
            sessions = harness.open_sessions(base, tokens)
            prepared = Path(tempfile.mkdtemp(prefix="bench-submit-")) / "patients.tsv"
            prepared.write_text("".join(last_page_post(s) for s in sessions))
            before = harness.wrk(base, "/_bench/commit", args, "post.lua")
            submits = harness.wrk(
                base, "/survey/2", args, "submit.lua", str(prepared), str(args.wrk_threads)
            )
            after = harness.wrk(base, "/_bench/commit", args, "post.lua")
        stored_invitations, stored_responses = completed(url)

    if submits["exhausted"]:
        raise SystemExit(
            f"only {args.patients} patients for {submits['requests']} submits: "
            "run again with more --patients"
        )
    if submits["bad"] or submits["errors"]:
        raise SystemExit(f"failed submits: {submits}")
    # Every submit wrk saw answered must be in the database (a 303 that stored nothing is no
    # submit); the database may hold a few more, answered after wrk stopped counting.
    assert stored_responses == 2 * stored_invitations, (stored_invitations, stored_responses)
    assert stored_invitations >= submits["requests"], (stored_invitations, submits)
    rate = submits["rps"]
    floor = (before["rps"] + after["rps"]) / 2
    print(harness.describe("floor: insert+commit before", before))
    print(harness.describe("patient submit", submits))
    print(harness.describe("floor: insert+commit after", after))
    print(
        f"stored: {stored_invitations} completed invitations, {stored_responses} responses "
        f"for {submits['requests']} submits answered in {submits['seconds']:.1f} s"
    )
    ratio = rate / floor
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"submits/s {rate:.1f} / floor {floor:.1f} req/s = {ratio:.2f} "
        f"(target >= {TARGET}: {verdict})"
    )
    print(f"submit latency p50 {submits['p50_ms']:.1f} ms, p95 {submits['p95_ms']:.1f} ms")
    print(f"wrk: {submits['command']}")


if __name__ == "__main__":
    main()
