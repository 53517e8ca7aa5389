"""The WSGI entry point: `gunicorn wsgi:app`, or `flask --app wsgi ...`.

From the checkout it also adds what benchmarks/ measures with, kept out of the installed package:
the `benchmark seed` command, and the floor routes when SURVEY_BENCHMARK_ROUTES=1."""

from benchmarks import cli as benchmark_cli
from benchmarks import floor
from survey import create_app

app = create_app()
benchmark_cli.init_app(app)
floor.init_app(app)
