"""Where a patient request spends its time: pyinstrument over the app in this process, on
PostgreSQL, for the questionnaire page and the final submit, with the SQL statements sent (a
round trip each, BEGIN, SAVEPOINT and COMMIT included) and the ORM objects built per request
(pyinstrument is not a dependency: `pip install -e '.[bench]'` to run this).

    python benchmarks/profile_patient.py [--patients 200] [--html profile.html]"""

import argparse
from collections import Counter

import harness
from pyinstrument import Profiler
from sqlalchemy import event
from sqlalchemy.orm import Session

from survey import create_app
from survey.extensions import db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=harness.DEFAULT_DATABASE)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--html", help="also write the submit profile as HTML here")
    args = parser.parse_args()

    with harness.scratch_schema(args.database) as url:
        tokens = harness.invite_patients(url, args.patients)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "benchmark-profile"})
        phones = [harness.open_in_process(app, i, token) for i, token in enumerate(tokens)]

        counted = count_work(app)
        for phone, _body in phones[:1]:
            counted.clear()
            assert phone.get("/survey/1").status_code == 200
            print_counts("GET /survey/1", counted)

        pages = Profiler(interval=0.0005)
        with pages:
            for phone, _ in phones:
                assert phone.get("/survey/1").status_code == 200
        counted.clear()
        first_phone, first_body = phones[0]
        sent = first_phone.post("/survey/2", data=first_body, content_type=harness.FORM)
        assert sent.status_code == 303
        print_counts("POST /survey/2 (submit)", counted)
        submits = Profiler(interval=0.0005)
        with submits:
            for phone, body in phones[1:]:
                sent = phone.post("/survey/2", data=body, content_type=harness.FORM)
                assert sent.status_code == 303

    print(f"== GET /survey/1, {len(phones)} patients ==")
    print(pages.output_text(unicode=True, color=False, show_all=False))
    print(f"== POST /survey/2 (submit), {len(phones)} patients ==")
    print(submits.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        with open(args.html, "w") as output:
            output.write(submits.output_html())


def count_work(app) -> Counter:
    """A counter of the statements the app sends (by their first word) and of the ORM
    objects its sessions load or add, from now on."""
    counted: Counter = Counter()
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def statement(conn, cursor, sql, parameters, context, executemany):
        counted["statement " + sql.split(None, 1)[0].upper()] += 1

    for name in ("begin", "commit", "rollback", "savepoint", "release_savepoint"):
        event.listen(engine, name, lambda *a, _n=name: counted.update([f"transaction {_n}"]))

    @event.listens_for(Session, "loaded_as_persistent")
    def loaded(session, instance):
        counted[f"ORM loaded {type(instance).__name__}"] += 1

    @event.listens_for(Session, "pending_to_persistent")
    def added(session, instance):
        counted[f"ORM added {type(instance).__name__}"] += 1

    return counted


def print_counts(what: str, counted: Counter) -> None:
    statements = sum(n for key, n in counted.items() if key.startswith("statement"))
    print(f"== {what}: {statements} statements ==")
    for key, n in sorted(counted.items()):
        print(f"   {n:3d}  {key}")


if __name__ == "__main__":
    main()
