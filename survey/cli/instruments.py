"""`instruments` commands: list, show, import licensed wording."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from survey.domain.wording_in_use import import_wording, instrument_in_use
from survey.extensions import db
from survey.instruments import DefinitionError, all_instruments, read_definition_file


@click.group()
def instruments():
    """Questionnaires: what is shipped, and importing licensed wording."""


@instruments.command("list")
@with_appcontext
def list_instruments():
    """List instruments with their version and the wording status per language."""
    for shipped in all_instruments():
        instrument = instrument_in_use(db.session, shipped.id)
        statuses = ", ".join(
            f"{lang}: {instrument.wording_status(lang)}" for lang in instrument.languages
        )
        items = len(instrument.items)
        click.echo(f"{instrument.id}\tv{instrument.version}\t{items} items\t{statuses}")


@instruments.command("show")
@click.argument("instrument_id")
@click.option("--language", default="en", show_default=True)
@with_appcontext
def show(instrument_id, language):
    """Show an instrument's items, answer options, bands and wording status."""
    try:
        instrument = instrument_in_use(db.session, instrument_id)
    except KeyError:
        raise click.ClickException(f"There is no instrument {instrument_id[:40]!r}.") from None
    if language not in instrument.languages:
        raise click.ClickException(
            f"{instrument.id} has no {language[:8]!r} wording; it has "
            f"{', '.join(instrument.languages)}."
        )
    click.echo(f"{instrument.title(language)} ({instrument.id} v{instrument.version})")
    click.echo(f"Citation: {instrument.citation}")
    click.echo(
        f"Wording ({language}): {instrument.wording_status(language)}. "
        f"{instrument.wording_note(language)}"
    )
    if recall := instrument.recall_period(language):
        click.echo(f"Recall period: {recall}")
    click.echo(f"Instructions: {instrument.instructions(language)}")
    click.echo(
        "Answers: "
        + "; ".join(f"{option.value} = {option.label(language)}" for option in instrument.options)
    )
    for item in instrument.items:
        click.echo(f"  {item.number:>2}. [{item.id}] {item.text(language)}")
    click.echo(f"Total: {instrument.min_total}-{instrument.max_total}")
    for band in instrument.bands:
        click.echo(f"  {band.min}-{band.max}: {band.label(language)} ({band.id})")
    for subscale in instrument.subscales:
        flag = " (provisional mapping)" if subscale.provisional else ""
        click.echo(f"  Subscale {subscale.id}: items {', '.join(subscale.item_ids)}{flag}")


@instruments.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def import_command(file: Path):
    """Import licensed wording from FILE (a definition file in the shipped format)."""
    try:
        data = read_definition_file(file)
        instrument = import_wording(db.session, data, source_name=file.name)
    except DefinitionError as error:
        db.session.rollback()
        raise click.ClickException(f"{file.name} was not imported: {error}") from None
    db.session.commit()
    statuses = ", ".join(
        f"{lang}: {instrument.wording_status(lang)}" for lang in instrument.languages
    )
    click.echo(
        f"Imported wording for {instrument.id} from {file.name} ({statuses}). "
        "Scoring and stored answers are unchanged."
    )
