"""`outreach` commands: dispatch due messages, manage schedules, show the SMS texts' cost."""

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from survey.config import ConfigurationError
from survey.domain.languages import patient_languages
from survey.extensions import db
from survey.models import Schedule, Site
from survey.outreach import texts
from survey.outreach.backends import backend_from_config
from survey.outreach.dispatch import dispatch_due
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.schedule_definitions import (
    ScheduleError,
    create_schedule,
    ensure_default_schedule,
    from_data,
    schedule_by_name,
    to_data,
)
from survey.outreach.segments import count_segments
from survey.settings import settings


@click.group()
def outreach():
    """SMS invitations: dispatch, schedules, texts."""


@outreach.command()
@click.option("--loop", is_flag=True, help="Keep running, dispatching every --interval seconds.")
@click.option(
    "--interval",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds between passes with --loop.",
)
@click.option(
    "--limit",
    default=200,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="At most this many messages examined per pass.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Dispatch as if the clock read this moment (e.g. 2026-03-02T19:30:00+01:00; a "
    "moment without a zone is UTC). For rehearsals and tests: quiet hours, limits and due "
    "times are judged by it. Not with --loop.",
)
@with_appcontext
def dispatch(loop, interval, limit, now_text):
    """Send the messages that are due, then exit (or keep going with --loop).

    Safe to run many at once on PostgreSQL; with SQLite run only one."""
    app = current_app._get_current_object()
    now = None
    if now_text:
        if loop:
            raise click.UsageError("--now sets one pass's clock; it cannot be used with --loop.")
        now = _moment(now_text)
    try:
        backend = backend_from_config(app.config, app.instance_path)
        dispatch_settings = DispatchSettings.from_config(app.config)
    except (ConfigurationError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if backend.name == "console" and settings(app).production:
        click.echo("Warning: SURVEY_SMS_BACKEND is console: nothing is really sent.", err=True)
    stopping = []
    if loop:  # finish the pass in hand on SIGTERM/SIGINT, then stop
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
    while True:
        try:
            report = dispatch_due(db.session, backend, dispatch_settings, now=now, limit=limit)
        except Exception:
            db.session.rollback()
            if not loop:
                raise
            app.logger.exception("dispatch pass failed; trying again in %s s", interval)
        else:
            if report.attempted or report.stalled or not loop:
                click.echo(f"dispatch: {report}")
        finally:
            db.session.remove()
        if not loop:
            return
        for _ in range(interval * 10):
            if stopping:
                return
            time.sleep(0.1)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text[:40]!r} is not an ISO 8601 moment such as 2026-03-02T19:30:00+01:00.",
            param_hint="--now",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@outreach.group()
def schedules():
    """Follow-up schedules."""


@schedules.command("list")
@with_appcontext
def list_schedules():
    """List schedules and their timepoints."""
    ensure_default_schedule(db.session)
    db.session.commit()
    for schedule in db.session.scalars(select(Schedule).order_by(Schedule.name)):
        state = "" if schedule.active else " (retired)"
        points = "; ".join(
            f"{tp.label} day {tp.offset_days} +{tp.window_days}d" for tp in schedule.timepoints
        )
        click.echo(f"{schedule.name}{state}: {points}")


@schedules.command("export")
@click.argument("name")
@with_appcontext
def export_schedule(name):
    """Print schedule NAME as JSON (the format `import` reads)."""
    schedule = schedule_by_name(db.session, name)
    if schedule is None:
        raise click.ClickException(f"There is no schedule called {name[:80]!r}.")
    db.session.commit()
    click.echo(json.dumps(to_data(schedule), indent=2, ensure_ascii=False))


@schedules.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_schedule(file: Path):
    """Add a schedule from a JSON FILE (see `export` for the format)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"There is no file {str(file)!r}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"Cannot read {file.name}: {error}") from None
    try:
        schedule = create_schedule(db.session, from_data(data))
    except ScheduleError as error:
        db.session.rollback()
        raise click.ClickException(f"{file.name} was not imported: {error}") from None
    db.session.commit()
    click.echo(f"Added schedule {schedule.name!r} with {len(schedule.timepoints)} timepoints.")


@schedules.command("retire")
@click.argument("name")
@with_appcontext
def retire_schedule(name):
    """Offer schedule NAME to no new patient (those who follow it keep it)."""
    schedule = schedule_by_name(db.session, name)
    if schedule is None:
        raise click.ClickException(f"There is no schedule called {name[:80]!r}.")
    schedule.active = False
    db.session.commit()
    click.echo(f"Retired {schedule.name!r}.")


@outreach.command("texts")
@click.option(
    "--clinic",
    help="The name the texts start with (default: each site's SMS name, or the neutral one).",
)
@with_appcontext
def show_texts(clinic):
    """Show each SMS text per language with its encoding and number of segments."""
    link = texts.example_link(settings().public_url)
    if clinic:
        senders = [(clinic, "+00 000 000 000")]
    else:
        sites = db.session.scalars(select(Site).order_by(Site.name)).all()
        senders = [
            (texts.chosen_sender_name(db.session, site), site.contact or "+00 000 000 000")
            for site in sites
        ] or [(None, "+00 000 000 000")]
    for name, contact in senders:
        # A site without an SMS name sends the neutral name of each language.
        click.echo(f"Texts starting with {name or texts.neutral_name('en')!r}:")
        for kind in texts.KINDS:
            for language in patient_languages(db.session):
                body = texts.render(
                    kind, language, name or texts.neutral_name(language), link, contact
                )
                count = count_segments(body)
                extra = (
                    f" (because of {' '.join(count.unicode_characters)})"
                    if count.unicode_characters
                    else ""
                )
                click.echo(
                    f"  {kind:<18}{language}  {count.units:>3} chars  {count.encoding}"
                    f"{extra}  {count.segments} segment(s)"
                )
