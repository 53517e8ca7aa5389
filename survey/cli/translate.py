"""`translate` commands, so translators never need to remember pybabel's flags."""

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface
from flask.cli import with_appcontext

from survey.config import PACKAGE_DIR

CHECKOUT = PACKAGE_DIR.parent
TRANSLATIONS = CHECKOUT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    pybabel(
        "extract",
        "-F",
        str(CHECKOUT / "babel.cfg"),
        "-k",
        "_l",
        "-k",
        "lazy_pgettext:1c,2",
        "--no-location",
        "--sort-output",
        "-o",
        str(TEMPLATE),
        str(CHECKOUT),
    )


@click.group()
def translate():
    """Extract, update and compile the interface translations."""


@translate.command()
@click.argument("language")
def init(language):
    """Start a catalog for a new LANGUAGE."""
    extract()
    pybabel("init", "-i", str(TEMPLATE), "-d", str(TRANSLATIONS), "-l", language)


@translate.command()
def update():
    """Extract new strings and merge them into every catalog."""
    extract()
    pybabel(
        "update",
        "-i",
        str(TEMPLATE),
        "-d",
        str(TRANSLATIONS),
        "--no-fuzzy-matching",
        "--ignore-obsolete",
    )


@translate.command()
@with_appcontext
def status():
    """Each language: catalog completeness, each questionnaire's wording, who is offered it."""
    from survey.domain.languages import language_statuses
    from survey.extensions import db

    for entry in language_statuses(db.session):
        catalog = entry.catalog
        if catalog is None:
            interface = "no catalog"
        else:
            interface = f"catalog {catalog.percent}% ({catalog.translated}/{catalog.total})"
            if not catalog.compiled:
                interface += ", not compiled"
        wordings = ", ".join(
            f"{instrument.id}: {wording or 'no wording'}" for instrument, wording in entry.wordings
        )
        offered = (
            "patients and staff"
            if entry.for_patients
            else "staff only"
            if entry.for_staff
            else "nobody yet"
        )
        line = f"{entry.code:<6} {entry.direction}  {interface}; {wordings}; offered to {offered}"
        click.echo(line)
        if catalog is not None and catalog.missing:
            shown = "; ".join(repr(message_id[:60]) for message_id in catalog.missing[:5])
            more = len(catalog.missing) - 5
            click.echo(f"       untranslated: {shown}" + (f" and {more} more" if more > 0 else ""))


@translate.command()
def compile():
    """Compile every catalog (.po) into the .mo the app reads."""
    compile_catalogs(TRANSLATIONS)


def compile_catalogs(directory: Path) -> None:
    pybabel("compile", "-d", str(directory))
