"""Where a patient request spends its time: pyinstrument over the app in this process, on
PostgreSQL, for the questionnaire page and the final submit (pyinstrument is not a dependency:
`pip install pyinstrument` to run this).

    python benchmarks/profile_patient.py [--patients 200] [--html profile.html]"""

import argparse
from urllib.parse import urlencode

import harness
from pyinstrument import Profiler

from survey import create_app
from tests.servers import CSRF


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=harness.DEFAULT_DATABASE)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--html", help="also write the submit profile as HTML here")
    args = parser.parse_args()

    with harness.scratch_schema(args.database) as url:
        tokens = harness.invite_patients(url, args.patients)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "benchmark-profile"})
        phones = []
        for i, token in enumerate(tokens):
            phone = app.test_client()
            assert phone.get(f"/s/{token}").status_code == 303
            csrf = CSRF.search(phone.get("/survey/1").text).group(1)
            first, second = harness.answers(i)
            page = urlencode({"csrf_token": csrf, "action": "next", **first})
            assert phone.post("/survey/1", data=page, content_type=FORM).status_code == 303
            phones.append((phone, urlencode({"csrf_token": csrf, "action": "next", **second})))

        pages = Profiler(interval=0.0005)
        with pages:
            for phone, _ in phones:
                assert phone.get("/survey/1").status_code == 200
        submits = Profiler(interval=0.0005)
        with submits:
            for phone, body in phones:
                assert phone.post("/survey/2", data=body, content_type=FORM).status_code == 303

    print(f"== GET /survey/1, {len(phones)} patients ==")
    print(pages.output_text(unicode=True, color=False, show_all=False))
    print(f"== POST /survey/2 (submit), {len(phones)} patients ==")
    print(submits.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        with open(args.html, "w") as output:
            output.write(submits.output_html())


FORM = "application/x-www-form-urlencoded"

if __name__ == "__main__":
    main()
