"""`translate` commands, so translators never need to remember pybabel's flags."""

from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface

from survey.config import PACKAGE_DIR

CHECKOUT = PACKAGE_DIR.parent
TRANSLATIONS = CHECKOUT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    pybabel(
        "extract", "-F", str(CHECKOUT / "babel.cfg"), "-k", "_l", "-k", "lazy_pgettext:1c,2",
        "--no-location",
        "--sort-output", "-o", str(TEMPLATE), str(CHECKOUT),
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
    pybabel("update", "-i", str(TEMPLATE), "-d", str(TRANSLATIONS), "--no-fuzzy-matching",
            "--ignore-obsolete")


@translate.command()
def compile():
    """Compile every catalog (.po) into the .mo the app reads."""
    compile_catalogs(TRANSLATIONS)


def compile_catalogs(directory: Path) -> None:
    pybabel("compile", "-d", str(directory))
