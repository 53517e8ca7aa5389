"""`triage`: the alert load of the rules, and assessing answers that were never triaged."""

import time
from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import exists, select

from survey.domain.staff_setup import StaffSetupError, find_site
from survey.domain.triage.assessing import assess_invitation
from survey.domain.triage.load import AlertLoad, replayed_load, stored_load
from survey.domain.triage.rules import RULE_IDS
from survey.extensions import db
from survey.models import Invitation, InvitationStatus, TriageItem, TriageLevel, utcnow

ANCHORS = (
    "Published: 7.8% of questionnaires alerted at Memorial Sloan Kettering (Strachna et al., "
    "JMIR Med Inform 2022); 34% of surveys in PRO-TECT (Mazza et al., Qual Life Res 2024)."
)


@click.group()
def triage():
    """Triage of answered questionnaires."""


@triage.command("load")
@click.option("--site", "site_name", help="One site (default: every site).")
@click.option("--stored", is_flag=True, help="Count the stored items instead of replaying.")
@click.option("--limit", type=click.IntRange(1), help="Replay at most this many patients.")
@with_appcontext
def load(site_name, stored, limit):
    """The share of answered timepoints at each level: the rules of each site replayed over
    every answered timepoint in order (or, with --stored, the items written at submit)."""
    site_ids = None
    if site_name:
        try:
            site_ids = [find_site(db.session, site_name).id]
        except StaffSetupError as error:
            raise click.ClickException(str(error)) from None
    started = time.perf_counter()
    measured = (
        stored_load(db.session, site_ids) if stored else replayed_load(db.session, site_ids, limit)
    )
    seconds = time.perf_counter() - started
    click.echo(
        f"{'Stored items' if stored else 'Rules replayed'}: {measured.answered} answered "
        f"timepoints of {measured.patients} patients ({seconds:.1f} s)."
    )
    if not measured.answered:
        click.echo("Nothing answered yet.")
        return
    _print_load(measured)
    click.echo(ANCHORS)


def _print_load(measured: AlertLoad) -> None:
    for level in (TriageLevel.RED, TriageLevel.YELLOW, TriageLevel.GREEN):
        click.echo(f"  {level:<7}{measured.levels[str(level)]:>9}  {measured.share(level):6.1%}")
    click.echo(f"  alerting (yellow or red): {measured.alerting:.1%}")
    for rule_id in RULE_IDS:
        share = measured.rules[rule_id] / measured.answered
        click.echo(f"  rule {rule_id:<28}{measured.rules[rule_id]:>9}  {share:6.1%}")


@triage.command("catch-up")
@click.option(
    "--days",
    default=14,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Assess questionnaires completed this many days back at most.",
)
@with_appcontext
def catch_up(days):
    """Triage answered questionnaires that have no triage item (triage failed at submit, or
    they were answered before triage existed), oldest first; each only once."""
    since = utcnow() - timedelta(days=days)
    untriaged = select(Invitation).where(
        Invitation.status == InvitationStatus.COMPLETED,
        Invitation.completed_at >= since,
        ~exists().where(TriageItem.invitation_id == Invitation.id),
    )
    count = 0
    for invitation in db.session.scalars(
        untriaged.order_by(Invitation.completed_at, Invitation.id)
    ).all():
        item = assess_invitation(db.session, invitation, utcnow())
        db.session.commit()
        if item is not None:
            count += 1
            click.echo(f"  invitation {invitation.id}: {item.level}")
    click.echo(f"Assessed {count} answered questionnaire(s) completed since {since:%Y-%m-%d}.")
