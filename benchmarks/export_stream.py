"""Time a streamed CSV export and its peak memory, to show memory stays flat as exports grow.

    python benchmarks/export_stream.py \
        --database postgresql://postgres@127.0.0.1:5432/bench_data_export \
        --site "Bench Small" --site "Bench Clinic"

Each site's export runs in a fresh process (peak memory is a process's high-water mark), as
the full signed-in request `POST /clinic/exports/long` (and `/wide`) through the test client,
reading the streamed body to the end. It prints the rows and bytes written, the time, and the
process's peak resident memory before the request and after the last byte. Seed a small and
a large site in one database first, e.g. 1,100 and 10,600 patients (~100,000 and ~1,000,000
answers) with `flask --app wsgi benchmark seed`.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import clinician_of, make_app, signed_in_client  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from survey.extensions import db  # noqa: E402
from survey.models import Answer, Patient, Response, Site  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def one_export(database_url: str, site_name: str, kind: str) -> dict:
    """Run one export in this process and describe it."""
    app = make_app(database_url)
    with app.app_context():
        clinician_of(site_name)
        site_id = db.session.scalar(select(Site.id).where(Site.name == site_name))
        answers = db.session.scalar(
            select(func.count())
            .select_from(Answer)
            .join(Response, Response.id == Answer.response_id)
            .join(Patient, Patient.id == Response.patient_id)
            .where(Patient.site_id == site_id)
        )
        client = signed_in_client(app)
        form = client.get("/clinic/exports").text
        token = form.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        before = peak_rss_mb()
        started = time.perf_counter()

        def download() -> tuple[int, int]:
            # Unbuffered, and read to the end inside one context of its own: the stream keeps
            # its request open until the last byte, as under a real server.
            answer = FlaskClient.open(
                client,
                f"/clinic/exports/{kind}",
                method="POST",
                data={"csrf_token": token, "site": str(site_id)},
                buffered=False,
            )
            if answer.status_code != 200:
                raise SystemExit(f"the export answered {answer.status_code}")
            size = lines = 0
            for chunk in answer.response:
                size += len(chunk)
                lines += chunk.count(b"\n" if isinstance(chunk, bytes) else "\n")
            answer.close()
            return size, lines

        size, lines = contextvars.Context().run(download)
        seconds = time.perf_counter() - started
    return {
        "site": site_name,
        "kind": kind,
        "answers": answers,
        "rows": lines - 1,
        "megabytes": size / 1e6,
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_peak_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--site", action="append", required=True, help="repeat: small first")
    parser.add_argument("--kind", action="append", choices=("long", "wide"))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process
    options = parser.parse_args()
    kinds = options.kind or ["long", "wide"]
    if options.one:
        print(json.dumps(one_export(options.database, options.site[0], kinds[0])))
        return
    print("| site | export | answers | rows | MB | seconds | peak RSS before MB | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for kind in kinds:
        for site in options.site:
            child = subprocess.run(  # noqa: S603 (this same script, our own arguments)
                [
                    sys.executable,
                    __file__,
                    "--one",
                    "--database",
                    options.database,
                    "--site",
                    site,
                    "--kind",
                    kind,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"| {r['site']} | {r['kind']} | {r['answers']:,} | {r['rows']:,} "
                f"| {r['megabytes']:.1f} | {r['seconds']:.1f} | {r['rss_before_mb']:.0f} "
                f"| {r['rss_peak_mb']:.0f} |"
            )


if __name__ == "__main__":
    main()
