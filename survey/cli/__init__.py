"""Command-line interface: `flask --app wsgi <group> <command>`."""

import functools

import click
from flask import Flask
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError


def init_app(app: Flask) -> None:
    from survey.cli import (
        demo,
        instruments,
        outreach,
        patients,
        sites_and_users,
        translate,
        triage,
        user_security,
    )

    for command in user_security.COMMANDS:
        sites_and_users.users.add_command(command)

    for command in (
        sites_and_users.sites,
        sites_and_users.users,
        patients.patients,
        patients.invite,
        instruments.instruments,
        demo.demo,
        translate.translate,
        outreach.outreach,
        triage.triage,
    ):
        refuse_database_errors_cleanly(command)
        app.cli.add_command(command)


def refuse_database_errors_cleanly(command: click.Command) -> None:
    """As a last line behind each command's own checks: a value the database refuses (a NUL
    character on PostgreSQL, a number beyond its column) ends the command with one line, as
    bad input does, not a traceback. Nothing was committed: the transaction is abandoned."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            refuse_database_errors_cleanly(sub)
    if command.callback is None or getattr(command.callback, "_refuses_cleanly", False):
        return
    callback = command.callback

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except DataError as error:
            raise click.ClickException(
                f"The database refused a value ({error.orig.__class__.__name__}); "
                "nothing was stored."
            ) from None
        except (OperationalError, ProgrammingError) as error:
            if not missing_table(error):
                raise
            raise click.ClickException(
                "The database has no tables yet, or is behind this version: "
                "run `flask --app wsgi db upgrade` first."
            ) from None

    guarded._refuses_cleanly = True
    command.callback = guarded


def missing_table(error: Exception) -> bool:
    """Whether the database said a table does not exist (SQLite's "no such table",
    PostgreSQL's SQLSTATE 42P01): a database never migrated, or migrated by an older version."""
    orig = getattr(error, "orig", None)
    return "no such table" in str(orig) or getattr(orig, "sqlstate", None) == "42P01"
