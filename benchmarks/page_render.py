"""A patient's questionnaire page against two floors in the same run, and the page's weight.

    python benchmarks/page_render.py [--seconds 15] [--workers N]
    python benchmarks/run_all.py --only page     (the same, as a row of the summary table)

One patient opens their link and answers page 1 through the server; wrk then asks for that
page (QoLAF-Q, 14 questions, their answers checked) again and again with the patient's cookie.
Two floors, each measured just before and just after, on servers with the same gunicorn
settings:
- bare: GET /page of benchmarks/bare_app.py, which answers the very bytes the patient's page
  was (fetched once before the run), from plain Flask with no middleware and no database;
- middleware: GET /_bench/page of the service (the patient layout, no database work, through
  the session, Babel, security headers).
Target: the patient page at least 0.6 of the bare floor's requests/s (issue #19); HTML + CSS
under 30 KB."""

import gzip
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or from run_all
import harness  # noqa: E402
import requests  # noqa: E402
from registry import Row, benchmark  # noqa: E402

TARGET = 0.6
WEIGHT_LIMIT = 30 * 1024
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
SCRIPT = re.compile(r'<script src="([^"]+)"')


def weigh(base: str, cookie: str) -> list[tuple[str, int, int, str]]:
    """(what, bytes served, bytes if gzipped at level 6, Content-Encoding) for the page and
    the files it loads."""
    served = []
    page = requests.get(base + "/survey/1", headers={"Cookie": cookie}, timeout=30)
    page.raise_for_status()
    parts = [("HTML /survey/1", page)]
    for pattern in (STYLESHEET, SCRIPT):
        for path in pattern.findall(page.text):
            parts.append((path, requests.get(base + path, timeout=30)))
    for what, response in parts:
        body = response.content  # as sent: requests would undo a Content-Encoding, so check it
        encoding = response.headers.get("Content-Encoding", "none")
        served.append((what, len(body), len(gzip.compress(body, compresslevel=6)), encoding))
    return served


@benchmark("page")
def run(args) -> list[Row]:
    """The patient's QoLAF-Q page under wrk, against the bare and middleware page floors."""
    with harness.scratch_schema(args.database) as url:
        print(f"machine: {harness.machine()}")
        print(harness.server_line(args))
        tokens = harness.invite_patients(url, 1)
        with harness.server(url, args) as base:
            [patient] = harness.open_sessions(base, tokens)
            page_bytes = requests.get(
                base + "/survey/1", headers={"Cookie": patient.cookie}, timeout=30
            ).content
            with harness.bare_server(url, args, page_bytes) as bare:
                bare_before = harness.wrk(bare, "/page", args, "get.lua")
                before = harness.wrk(base, "/_bench/page", args, "get.lua", patient.cookie)
                page = harness.wrk(base, "/survey/1", args, "get.lua", patient.cookie)
                after = harness.wrk(base, "/_bench/page", args, "get.lua", patient.cookie)
                bare_after = harness.wrk(bare, "/page", args, "get.lua")
            weights = weigh(base, patient.cookie)

    for run_ in (bare_before, before, page, after, bare_after):
        if run_["bad"] or run_["errors"]:
            raise SystemExit(f"failed requests: {run_}")
    bare_floor = (bare_before["rps"] + bare_after["rps"]) / 2
    floor = (before["rps"] + after["rps"]) / 2
    print(harness.describe("bare floor: same bytes before", bare_before))
    print(harness.describe("middleware floor: before", before))
    print(harness.describe("patient page /survey/1", page))
    print(harness.describe("middleware floor: after", after))
    print(harness.describe("bare floor: same bytes after", bare_after))
    row = Row(
        "patient page (QoLAF-Q)",
        page["rps"],
        "req/s",
        bare_floor=bare_floor,
        middleware_floor=floor,
        target=TARGET,
        note=(
            f"p50 {page['p50_ms']:.0f} ms, p95 {page['p95_ms']:.0f} ms; "
            f"the bare floor serves the page's {len(page_bytes)} bytes"
        ),
    )
    print(
        f"page {row.figure:.1f} / bare floor {bare_floor:.1f} req/s = {row.ratio:.2f} "
        f"(target >= {TARGET}: {'met' if row.met else 'NOT met'}); "
        f"/ middleware floor {floor:.1f} = {row.middleware_ratio:.2f}"
    )
    print(f"wrk: {page['command']}")
    for what, size, zipped, encoding in weights:
        print(
            f"weight: {what:<32} {size:6d} bytes served (Content-Encoding: {encoding}), "
            f"{zipped:6d} gzipped"
        )
    html_css = sum(size for what, size, _, _ in weights if not what.endswith(".js"))
    verdict = "met" if html_css < WEIGHT_LIMIT else "NOT met"
    weight = Row(
        "patient page weight, HTML + CSS",
        html_css / 1024,
        "KB",
        note=f"target < {WEIGHT_LIMIT // 1024} KB: {verdict}",
    )
    print(f"weight: HTML + CSS {html_css} bytes as served, uncompressed ({weight.note})")
    return [row, weight]


def main() -> None:
    run(harness.arguments(__doc__.splitlines()[0]).parse_args())


if __name__ == "__main__":
    main()
