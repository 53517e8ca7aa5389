"""`sites` and `users` commands."""

import sys

import click
from flask.cli import with_appcontext

from survey import text
from survey.cli.user_security import BY_COMMAND
from survey.domain import audit_trail
from survey.domain.enrolment import EnrolmentError, check_language
from survey.domain.languages import SOURCE_LANGUAGE
from survey.domain.staff_setup import (
    StaffSetupError,
    create_site,
    create_user,
    find_site,
    update_site,
)
from survey.extensions import db
from survey.text import TextParam
from survey.timezones import InvalidTimezone


@click.group()
def sites():
    """Manage sites (clinics)."""


@sites.command("add")
@click.argument("name", type=TextParam(text.SITE_NAME))
@click.option("--timezone", default="UTC", show_default=True, help="IANA name, e.g. Europe/Madrid.")
@click.option(
    "--language",
    default=SOURCE_LANGUAGE,
    show_default=True,
    help="A language patients can answer in.",
)
@click.option(
    "--contact",
    default="",
    type=TextParam(text.SITE_CONTACT),
    help="How patients reach the clinic, e.g. a phone number (up to 200 characters).",
)
@click.option(
    "--country",
    default=None,
    help="ISO 3166-1 alpha-2 code, e.g. ES: staff may then type patients' numbers "
    "as written in that country.",
)
@with_appcontext
def add_site(name, timezone, language, contact, country):
    """Add a site called NAME."""
    try:
        check_language(language, db.session)
        site = create_site(db.session, name, timezone, language, contact, country)
        db.session.flush()
        audit_trail.record(
            db.session, "site.created", site_id=site.id, subject=site, detail=BY_COMMAND
        )
    except (StaffSetupError, InvalidTimezone, EnrolmentError) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    where = f", {site.country}" if site.country else ""
    click.echo(f"Added site {site.name!r} ({site.timezone}{where}).")


@sites.command("edit")
@click.argument("name", type=TextParam(text.SITE_NAME))
@click.option("--name", "new_name", default=None, type=TextParam(text.SITE_NAME), help="Rename.")
@click.option("--timezone", default=None, help="IANA name, e.g. Europe/Madrid.")
@click.option("--language", default=None, help="A language patients can answer in.")
@click.option("--contact", default=None, type=TextParam(text.SITE_CONTACT))
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code; '' removes it.")
@with_appcontext
def edit_site(name, new_name, timezone, language, contact, country):
    """Change the details of the site called NAME (options not given are kept)."""
    try:
        site = find_site(db.session, name)
        if language is not None:
            check_language(language, db.session)
        changed = update_site(
            db.session,
            site,
            name=new_name,
            timezone=timezone,
            language=language,
            contact=contact,
            country=country,
        )
    except (StaffSetupError, InvalidTimezone, EnrolmentError) as error:
        raise click.ClickException(str(error)) from None
    if not changed:
        click.echo(f"Nothing to change at {site.name!r}.")
        return
    audit_trail.record(
        db.session,
        "site.changed",
        site_id=site.id,
        subject=site,
        detail={**BY_COMMAND, "changed": {f: list(v) for f, v in changed.items()}},
    )
    db.session.commit()
    click.echo(f"Changed {', '.join(changed)} of {site.name!r}.")


@sites.command("patient-results")
@click.argument("name")
@click.argument("setting", type=click.Choice(["on", "off"]))
@with_appcontext
def patient_results(name, setting):
    """Let patients of site NAME see their own totals after sending (on), or not (off)."""
    try:
        site = find_site(db.session, name)
    except StaffSetupError as error:
        raise click.ClickException(str(error)) from None
    site.patient_results = setting == "on"
    audit_trail.record(
        db.session, "site.patient_results", site_id=site.id, subject=site, detail={"on": setting}
    )
    db.session.commit()
    click.echo(
        f"Patients of {site.name!r} {'see' if site.patient_results else 'do not see'} "
        "their own totals after sending."
    )


@sites.command("list")
@with_appcontext
def list_sites():
    """List sites."""
    from sqlalchemy import select

    from survey.models import Site

    for site in db.session.scalars(select(Site).order_by(Site.name)):
        click.echo(f"{site.name}\t{site.timezone}\t{site.default_language}\t{site.country or ''}")


@click.group()
def users():
    """Manage staff accounts."""


@users.command("create")
@click.argument("email", type=TextParam(text.EMAIL))
@click.option("--role", required=True, type=click.Choice(["admin", "clinician", "coordinator"]))
@click.option("--site", "site_names", required=True, multiple=True, help="Repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user_command(email, role, site_names, password_stdin):
    """Create a staff account for EMAIL (the password is asked for, or read from stdin)."""
    try:
        site_list = [find_site(db.session, name) for name in site_names]
    except StaffSetupError as error:
        raise click.ClickException(str(error)) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, email, password, role, site_list)
    except StaffSetupError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} at {', '.join(s.name for s in site_list)}.")
