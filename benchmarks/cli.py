"""`benchmark seed`: fill a site with many patients to measure the clinic pages against."""

import time

import click
from flask import Flask
from flask.cli import with_appcontext

from benchmarks.seeding import seed_patients
from survey.cli import refuse_database_errors_cleanly
from survey.domain.staff_setup import StaffSetupError, find_site
from survey.extensions import db

MAX_PATIENTS = 1_000_000


def init_app(app: Flask) -> None:
    """Add `flask benchmark ...` to an app made by `create_app` (wsgi.py calls it)."""
    refuse_database_errors_cleanly(benchmark)
    app.cli.add_command(benchmark)


@click.group()
def benchmark():
    """Data for the scripts in benchmarks/ (never run against a clinic's database)."""


@benchmark.command("seed")
@click.option(
    "--patients",
    "count",
    required=True,
    type=click.IntRange(1, MAX_PATIENTS),
    help="How many patients to add.",
)
@click.option("--site", "site_name", required=True, help="The site's name.")
@click.option(
    "--prefix", default="BENCH-", show_default=True, help="References are the prefix and a number."
)
@with_appcontext
def seed(count, site_name, prefix):
    """Add patients who have answered five timepoints of the default schedule."""
    if not prefix.isprintable() or not 1 <= len(prefix) <= 40:
        raise click.ClickException("The prefix must be 1 to 40 printable characters.")
    try:
        site = find_site(db.session, site_name)
    except StaffSetupError as error:
        raise click.ClickException(str(error)) from None
    started = time.perf_counter()
    seeded = seed_patients(db.session, site, count, prefix=prefix)
    click.echo(
        f"Added {seeded.patients} patients, {seeded.invitations} invitations, "
        f"{seeded.responses} responses and {seeded.answers} answers to {site.name} "
        f"in {time.perf_counter() - started:.1f} s."
    )
