"""`patients` commands and `invite`."""

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from survey.enrolment import LANGUAGES, EnrolmentError, enrol_patient
from survey.extensions import db
from survey.invitations import DEFAULT_INSTRUMENTS, create_invitation, link_url, mint_link
from survey.models import Patient, PatientStatus, Site
from survey.staff import StaffSetupError, find_site


@click.group()
def patients():
    """Manage patients in follow-up."""


@patients.command("add")
@click.argument("reference")
@click.option("--site", "site_name", required=True, help="The site's name.")
@click.option("--phone", required=True, help="Mobile number in E.164, e.g. +34612345678.")
@click.option("--language", required=True, help=f"One of {', '.join(LANGUAGES)}.")
@click.option("--timezone", help="IANA name; defaults to the site's.")
@click.option("--index-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD.")
@with_appcontext
def add_patient(reference, site_name, phone, language, timezone, index_date):
    """Enrol a patient known by REFERENCE."""
    try:
        site = find_site(db.session, site_name)
        patient = enrol_patient(
            db.session,
            site,
            reference,
            phone,
            language,
            timezone,
            index_date.date() if index_date else None,
        )
    except (StaffSetupError, EnrolmentError) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Enrolled {patient.reference} at {site.name}.")


@patients.command("list")
@click.option("--site", "site_name", help="Only this site.")
@with_appcontext
def list_patients(site_name):
    """List patients: reference, site, language, status."""
    query = select(Patient).join(Site).order_by(Site.name, Patient.reference)
    if site_name:
        query = query.where(Site.name == site_name)
    for patient in db.session.scalars(query):
        click.echo(f"{patient.reference}\t{patient.site.name}\t{patient.language}\t{patient.status}")


@click.command()
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@click.option("--timepoint", default="ad hoc", show_default=True)
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 365),
              help="How many days the link stays open.")
@with_appcontext
def invite(reference, site_name, timepoint, days):
    """Create an invitation now for the patient REFERENCE and print its private link last."""
    query = select(Patient).where(Patient.reference == reference)
    if site_name:
        query = query.join(Site).where(Site.name == site_name)
    found = db.session.scalars(query.limit(2)).all()
    if not found:
        raise click.ClickException(f"There is no patient with reference {reference[:64]!r}.")
    if len(found) > 1:
        raise click.ClickException(
            f"Several sites have a patient {reference!r}; name one with --site."
        )
    patient = found[0]
    if patient.status == PatientStatus.WITHDRAWN:
        raise click.ClickException(f"{patient.reference} has withdrawn from follow-up.")
    timepoint = " ".join(timepoint.split())[:64] or "ad hoc"
    invitation = create_invitation(
        db.session, patient, timepoint, DEFAULT_INSTRUMENTS, window=timedelta(days=days)
    )
    token = mint_link(db.session, invitation)
    db.session.commit()
    click.echo(
        f"Invitation {invitation.id} for {patient.reference} ({timepoint}), "
        f"open until {invitation.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    click.echo(link_url(current_app.config["PUBLIC_URL"], token))
