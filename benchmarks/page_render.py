"""A patient's questionnaire page against the template-only floor, and the page's weight.

    python benchmarks/page_render.py [--seconds 15] [--workers N]

One patient opens their link and answers page 1 through the server; wrk then asks for that
page (QoLAF-Q, 14 questions, their answers checked) again and again with the patient's cookie,
and for GET /_bench/page (the same layout, no database work) just before and just after.
Target: the patient page at least 0.7 of the floor's requests/s; HTML + CSS under 30 KB."""

import gzip
import re

import harness
import requests

TARGET = 0.7
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


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0]).parse_args()
    with harness.scratch_schema(args.database) as url:
        print(f"machine: {harness.machine()}")
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads; "
            f"wrk: {args.wrk_threads} threads, {args.connections} connections, {args.seconds} s"
        )
        tokens = harness.invite_patients(url, 1)
        with harness.server(url, args) as base:
            [patient] = harness.open_sessions(base, tokens)
            before = harness.wrk(base, "/_bench/page", args, "get.lua", patient.cookie)
            page = harness.wrk(base, "/survey/1", args, "get.lua", patient.cookie)
            after = harness.wrk(base, "/_bench/page", args, "get.lua", patient.cookie)
            weights = weigh(base, patient.cookie)

    for run in (before, page, after):
        if run["bad"] or run["errors"]:
            raise SystemExit(f"failed requests: {run}")
    floor = (before["rps"] + after["rps"]) / 2
    print(harness.describe("floor: template only before", before))
    print(harness.describe("patient page /survey/1", page))
    print(harness.describe("floor: template only after", after))
    ratio = page["rps"] / floor
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"page {page['rps']:.1f} / floor {floor:.1f} req/s = {ratio:.2f} "
        f"(target >= {TARGET}: {verdict})"
    )
    print(f"wrk: {page['command']}")
    for what, size, zipped, encoding in weights:
        print(
            f"weight: {what:<32} {size:6d} bytes served (Content-Encoding: {encoding}), "
            f"{zipped:6d} gzipped"
        )
    html_css = sum(size for what, size, _, _ in weights if not what.endswith(".js"))
    verdict = "met" if html_css < WEIGHT_LIMIT else "NOT met"
    print(
        f"weight: HTML + CSS {html_css} bytes as served, uncompressed "
        f"(target < {WEIGHT_LIMIT}: {verdict})"
    )


if __name__ == "__main__":
    main()
