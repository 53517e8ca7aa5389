"""`patients` commands (add, edit, new-episode, pause, resume, withdraw, list) and `invite`."""

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from survey import text
from survey.domain.audit_trail import record
from survey.domain.enrolment import EnrolmentError
from survey.domain.invitations import DEFAULT_INSTRUMENTS, create_invitation, link_url, mint_link
from survey.domain.staff_setup import StaffSetupError, find_site
from survey.extensions import db
from survey.localtime import format_local
from survey.models import Patient, PatientStatus, Site, utcnow
from survey.outreach.patient_schedule import (
    enrol,
    pause,
    resume,
    start_episode,
    update_details,
    withdraw,
)
from survey.outreach.policy import SendingRules
from survey.outreach.schedule_definitions import DEFAULT_SCHEDULE_NAME, schedule_by_name
from survey.settings import settings
from survey.text import TextParam


@click.group()
def patients():
    """Manage patients in follow-up."""


LANGUAGE_HELP = "A language patients can answer in (`translate status` lists them)."


@patients.command("add")
@click.argument("reference", type=TextParam(text.PATIENT_REFERENCE))
@click.option("--site", "site_name", required=True, help="The site's name.")
@click.option(
    "--phone",
    required=True,
    help="Mobile number: international (+34612345678), or as written in the site's country.",
)
@click.option("--language", required=True, help=LANGUAGE_HELP)
@click.option("--timezone", help="IANA name; defaults to the site's.")
@click.option("--index-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD.")
@click.option(
    "--schedule",
    "schedule_name",
    help=f"Follow a schedule (e.g. {DEFAULT_SCHEDULE_NAME!r}): its invitations and "
    "messages are planned at once. Needs --index-date.",
)
@with_appcontext
def add_patient(reference, site_name, phone, language, timezone, index_date, schedule_name):
    """Enrol a patient known by REFERENCE."""
    try:
        site = find_site(db.session, site_name)
        schedule = _schedule(schedule_name)
        patient, changes = enrol(
            db.session,
            site,
            reference,
            phone,
            language,
            timezone,
            index_date.date() if index_date else None,
            schedule,
            utcnow(),
            SendingRules.from_config(current_app.config),
        )
    except (StaffSetupError, EnrolmentError) as error:
        raise click.ClickException(str(error)) from None
    db.session.flush()
    record(
        db.session,
        "patient.enrol",
        subject=patient,
        detail={"via": "cli", "schedule": schedule_name, "created": changes.created},
    )
    db.session.commit()
    click.echo(f"Enrolled {patient.reference} at {site.name}.")
    _echo_changes(changes)


@patients.command("edit")
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@click.option(
    "--phone", help="New mobile number (international, or as written in the site's country)."
)
@click.option("--language", help=LANGUAGE_HELP)
@click.option("--timezone", help="IANA name.")
@click.option("--index-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD.")
@click.option("--schedule", "schedule_name", help="Follow this schedule from now on.")
@with_appcontext
def edit_patient(reference, site_name, phone, language, timezone, index_date, schedule_name):
    """Change a patient's details; a new index date moves invitations not yet sent."""
    patient = _find_patient(reference, site_name)
    try:
        changed, changes = update_details(
            db.session,
            patient,
            phone=phone or patient.phone or "",
            language=language or patient.language,
            timezone=timezone or patient.timezone,
            index_date=index_date.date() if index_date else patient.index_date,
            schedule=_schedule(schedule_name) if schedule_name else patient.schedule,
            now=utcnow(),
            rules=SendingRules.from_config(current_app.config),
        )
    except EnrolmentError as error:
        raise click.ClickException(str(error)) from None
    record(
        db.session,
        "patient.edit",
        subject=patient,
        detail={"via": "cli", "changed": sorted(changed), "moved": changes.moved},
    )
    db.session.commit()
    click.echo(f"Updated {patient.reference}: {', '.join(sorted(changed)) or 'nothing changed'}.")
    _echo_changes(changes)


@patients.command("new-episode")
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@click.option(
    "--index-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="The new procedure date (YYYY-MM-DD); the new timepoints count from it.",
)
@click.option("--schedule", "schedule_name", help="Follow this schedule (default: the current).")
@click.option("--no-schedule", is_flag=True, help="No schedule: invitations by hand.")
@click.option(
    "--label",
    help="A short name: seton, repair, recurrence, or free text (at most 60 characters).",
)
@click.option(
    "--earlier",
    type=click.Choice(["cancel", "keep"]),
    required=True,
    help="What becomes of the earlier episode's messages not yet sent.",
)
@with_appcontext
def new_episode(reference, site_name, index_date, schedule_name, no_schedule, label, earlier):
    """Start a new episode of care (a definitive repair after a seton, a recurrence)."""
    patient = _find_patient(reference, site_name)
    schedule = patient.schedule
    try:
        if no_schedule or schedule_name:
            schedule = None if no_schedule else _schedule(schedule_name)
        started = start_episode(
            db.session,
            patient,
            index_date=index_date.date(),
            schedule=schedule,
            label=label,
            keep_earlier=earlier == "keep",
            now=utcnow(),
            rules=SendingRules.from_config(current_app.config),
        )
    except EnrolmentError as error:
        raise click.ClickException(str(error)) from None
    record(
        db.session,
        "patient.new_episode",
        subject=patient,
        detail={
            "via": "cli",
            "episode": started.episode.number,
            "index_date": str(started.episode.index_date),
            "earlier": earlier,
            "cancelled": started.cancelled,
            "cancelled_messages": started.cancelled_messages,
            "created": started.changes.created,
        },
    )
    db.session.commit()
    click.echo(
        f"Started episode {started.episode.number} of {patient.reference} "
        f"(index date {started.episode.index_date.isoformat()}); "
        f"{started.cancelled_messages} earlier messages cancelled."
    )
    _echo_changes(started.changes)


@patients.command("pause")
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@with_appcontext
def pause_patient(reference, site_name):
    """Hold a patient's messages; the schedule is kept."""
    _change_status(reference, site_name, "pause")


@patients.command("resume")
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@with_appcontext
def resume_patient(reference, site_name):
    """Let a paused patient's messages go again."""
    _change_status(reference, site_name, "resume")


@patients.command("withdraw")
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@click.confirmation_option(prompt="Withdraw this patient? Nothing more will be sent.")
@with_appcontext
def withdraw_patient(reference, site_name):
    """End a patient's follow-up: open invitations close, nothing more is sent."""
    _change_status(reference, site_name, "withdraw")


def _change_status(reference, site_name, action):
    patient = _find_patient(reference, site_name)
    try:
        if action == "pause":
            pause(patient)
        elif action == "resume":
            resume(patient)
        else:
            withdraw(db.session, patient)
    except EnrolmentError as error:
        raise click.ClickException(str(error)) from None
    record(db.session, f"patient.{action}", subject=patient, detail={"via": "cli"})
    db.session.commit()
    click.echo(f"{patient.reference}: {patient.status}.")


def _schedule(name):
    if not name:
        return None
    schedule = schedule_by_name(db.session, name)
    if schedule is None or not schedule.active:
        raise EnrolmentError(f"There is no schedule called {name[:80]!r} offered for enrolment.")
    return schedule


def _echo_changes(changes) -> None:
    for label, items in (
        ("Scheduled", changes.created),
        ("Moved", changes.moved),
        ("Cancelled", changes.cancelled),
        ("Skipped (window already closed)", changes.closed),
    ):
        if items:
            click.echo(f"{label}: {', '.join(items)}.")


def _find_patient(reference, site_name) -> Patient:
    found = []
    # A reference or site name that could never have been stored is simply not found (and
    # never reaches a query: PostgreSQL refuses a NUL character outright).
    if text.PATIENT_REFERENCE.is_valid(reference) and (
        not site_name or text.SITE_NAME.is_valid(site_name)
    ):
        query = select(Patient).where(Patient.reference == text.PATIENT_REFERENCE.clean(reference))
        if site_name:
            query = query.join(Site).where(Site.name == text.SITE_NAME.clean(site_name))
        found = db.session.scalars(query.limit(2)).all()
    if not found:
        raise click.ClickException(f"There is no patient with reference {reference[:64]!r}.")
    if len(found) > 1:
        raise click.ClickException(
            f"Several sites have a patient {reference[:64]!r}; name one with --site."
        )
    return found[0]


@patients.command("list")
@click.option("--site", "site_name", help="Only this site.")
@with_appcontext
def list_patients(site_name):
    """List patients: reference, site, language, status."""
    query = select(Patient).join(Site).order_by(Site.name, Patient.reference)
    if site_name:
        try:
            query = query.where(Site.id == find_site(db.session, site_name).id)
        except StaffSetupError as error:
            raise click.ClickException(str(error)) from None
    for patient in db.session.scalars(query):
        click.echo(
            f"{patient.reference}\t{patient.site.name}\t{patient.language}\t{patient.status}"
        )


@click.command()
@click.argument("reference")
@click.option("--site", "site_name", help="Needed when several sites use the same reference.")
@click.option(
    "--timepoint",
    default="ad hoc",
    show_default=True,
    type=TextParam(text.INVITATION_TIMEPOINT),
    help="What the invitation is for, e.g. '3 months' (up to 64 characters).",
)
@click.option(
    "--days",
    default=14,
    show_default=True,
    type=click.IntRange(1, 365),
    help="How many days the link stays open.",
)
@with_appcontext
def invite(reference, site_name, timepoint, days):
    """Create an invitation now for the patient REFERENCE and print its private link last."""
    patient = _find_patient(reference, site_name)
    if patient.status == PatientStatus.WITHDRAWN:
        raise click.ClickException(f"{patient.reference} has withdrawn from follow-up.")
    invitation = create_invitation(
        db.session, patient, timepoint, DEFAULT_INSTRUMENTS, window_days=days
    )
    token = mint_link(db.session, invitation)
    db.session.commit()
    click.echo(
        f"Invitation {invitation.id} for {patient.reference} ({timepoint}), "
        f"open until {format_local(invitation.expires_at, patient.timezone)}:"
    )
    click.echo(link_url(settings().public_url, token))
