"""Schedules (administrators define them; coordinators read them) and the SMS texts with what
each costs, and the name each site's texts start with."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from survey.auth import staff_required
from survey.coordinate.blueprint import bp
from survey.coordinate.forms import ScheduleForm, SenderForm, option
from survey.domain import audit_trail
from survey.domain.languages import patient_languages
from survey.extensions import db
from survey.i18n import language_name
from survey.models import Patient, Schedule
from survey.outreach import texts
from survey.outreach.schedule_definitions import (
    DEFAULT_SCHEDULE_NAME,
    ScheduleError,
    ScheduleSpec,
    ScheduleTaken,
    TimepointSpec,
    create_schedule,
    ensure_default_schedule,
    is_same_schedule,
)
from survey.outreach.segments import count_segments
from survey.querystring import whole_number
from survey.settings import settings
from survey.staff_areas import Area, may_use


@bp.route("/schedules")
@staff_required(Area.FOLLOW_UP)
def schedules():
    """Every schedule with its timepoints, and how many patients follow it."""
    ensure_default_schedule(db.session)
    db.session.commit()
    found = db.session.scalars(
        select(Schedule).order_by(Schedule.active.desc(), Schedule.name)
    ).all()
    counts = dict(
        db.session.execute(
            select(Patient.schedule_id, func.count())
            .where(Patient.site_id.in_(g.user.site_ids))
            .group_by(Patient.schedule_id)
        ).all()
    )
    return render_template(
        "coordinate/schedules.html",
        may_edit=may_use(g.user.role, Area.ADMINISTRATION),
        schedules=found,
        counts=counts,
        default_name=DEFAULT_SCHEDULE_NAME,
    )


@bp.route("/schedules/new", methods=["GET", "POST"])
@staff_required(Area.ADMINISTRATION)
def new_schedule():
    """Define a schedule (optionally starting from a copy of another)."""
    form = ScheduleForm()
    source = db.session.get(Schedule, whole_number(request.args, "copy", default=0))
    if request.method == "GET" and source is not None:
        form.name.data = _("Copy of %(name)s", name=source.name)[:80]
        form.description.data = source.description
        for entry, timepoint in zip(form.timepoints, source.timepoints, strict=False):
            entry.label.data = timepoint.label
            entry.day.data = timepoint.offset_days
            entry.window_days.data = timepoint.window_days
            entry.reminder_days.data = ", ".join(str(day) for day in timepoint.reminder_days)
            entry.instruments.data = list(timepoint.instrument_ids)
    problems = []
    if form.validate_on_submit():
        try:
            spec = ScheduleSpec(
                form.name.data,
                form.description.data or "",
                tuple(_timepoint(entry.form) for entry in form.timepoints if not entry.form.blank),
            )
            schedule = create_schedule(db.session, spec, g.user)
        except ScheduleTaken as error:
            db.session.rollback()
            existing = db.session.scalar(select(Schedule).where(Schedule.name == error.name))
            if existing is not None and is_same_schedule(existing, spec, g.user):
                # The same form posted twice (a double-click): the first one made it.
                flash(_("The schedule %(name)s is ready for enrolments.", name=existing.name))
                return redirect(url_for("coordinate.schedules"))
            problems = [str(problem) for problem in error.problems]
        except ScheduleError as error:
            db.session.rollback()
            problems = [str(problem) for problem in error.problems]
        else:
            db.session.flush()
            audit_trail.log("schedule.create", subject=schedule, detail={"name": schedule.name})
            db.session.commit()
            flash(_("The schedule %(name)s is ready for enrolments.", name=schedule.name))
            return redirect(url_for("coordinate.schedules"))
    return render_template("coordinate/schedule_form.html", form=form, problems=problems)


def _timepoint(entry) -> TimepointSpec:
    try:
        reminders = tuple(
            int(day)
            for day in (entry.reminder_days.data or "").replace(";", ",").split(",")
            if day.strip()
        )
    except ValueError:
        raise ScheduleError(
            [
                _(
                    "%(label)s: write reminders as whole days separated by commas, e.g. 3, 7.",
                    label=entry.label.data,
                )
            ]
        ) from None
    return TimepointSpec(
        entry.label.data,
        entry.day.data,
        entry.window_days.data,
        reminders,
        tuple(entry.instruments.data or ()),
    )


@bp.post("/schedules/<int:schedule_id>/<any('retire', 'restore'):action>")
@staff_required(Area.ADMINISTRATION)
def retire_schedule(schedule_id: int, action: str):
    """Stop (or start again) offering a schedule for new enrolments."""
    schedule = db.session.get(Schedule, schedule_id) or abort(404)
    schedule.active = action == "restore"
    audit_trail.log(f"schedule.{action}", subject=schedule, detail={"name": schedule.name})
    db.session.commit()
    if schedule.active:
        flash(_("%(name)s is offered for enrolments again.", name=schedule.name))
    else:
        flash(
            _(
                "%(name)s is retired: patients who follow it keep it, no one new can be "
                "enrolled in it.",
                name=schedule.name,
            )
        )
    return redirect(url_for("coordinate.schedules"))


@bp.route("/texts", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def sms_texts():
    """The texts patients receive in each language, with their encoding and segment count
    (what each one costs), and the name each site's texts start with."""
    form = SenderForm()
    form.site_id.choices = [option(site.id, site.name) for site in g.user.sites]
    if request.method == "POST":
        if not may_use(g.user.role, Area.ADMINISTRATION):
            abort(403)
        if form.validate_on_submit():
            _save_sender_name(form)
            return redirect(url_for("coordinate.sms_texts"))
    link = texts.example_link(settings().public_url)
    # A site without an SMS name sends the neutral name of each language, never its own.
    sites = [(site, texts.chosen_sender_name(db.session, site)) for site in g.user.sites]
    tables = []
    for site, name in sites:
        rows = []
        for kind in texts.KINDS:
            for language in patient_languages(db.session):
                body = texts.render(
                    kind,
                    language,
                    name or texts.neutral_name(language),
                    link,
                    site.contact or "+00 000 000 000",
                )
                rows.append((kind, language_name(language), body, count_segments(body)))
        tables.append((site, name, rows))
    named = [name for _site, name in sites if name]
    return render_template(
        "coordinate/texts.html",
        may_edit=may_use(g.user.role, Area.ADMINISTRATION),
        tables=tables,
        form=form,
        link=link,
        neutral_names=[texts.neutral_name(language) for language in patient_languages(db.session)],
        warnings={name: texts.revealing_words(name) for name in named},
        name_unicode={name: count_segments(name).unicode_characters for name in named},
        name_segments={
            name: [
                (language_name(language), segments)
                for language, segments in texts.segments_by_language(name, link).items()
            ]
            for name in named
        },
        max_segments=texts.MAX_SEGMENTS,
        whatsapp_setup=_whatsapp_setup(),
    )


def _whatsapp_setup() -> dict:
    """What the WhatsApp template section shows: which settings are set (never their values),
    the variables the template receives, and the text to submit in each language."""
    return {
        "from_set": bool(settings().twilio_whatsapp_from),
        "content_sid_set": bool(settings().twilio_whatsapp_content_sid),
        "variables": [f"{{{{{number}}}}}" for number, _name in texts.WHATSAPP_VARIABLES],
        "texts": [
            (language, language_name(language), texts.whatsapp_template_text(language))
            for language in patient_languages(db.session)
        ],
    }


def _save_sender_name(form: SenderForm) -> None:
    # The form's PlainText validator has made it a clean text: no control or direction-changing
    # characters that would make an SMS read differently from what this page shows.
    name = form.name.data
    if revealing := texts.revealing_words(name):
        flash(
            _(
                "That name would tell anyone who sees the phone what the patient is treated "
                "for (%(words)s). Choose a neutral name.",
                words=", ".join(revealing),
            ),
            "error",
        )
        return
    link = texts.example_link(settings().public_url)
    if costly := texts.too_costly(name, link):
        flash(
            _(
                "With that name, some texts would cost more than %(most)d segments "
                "(%(languages)s). Choose a shorter name, or one without characters such as "
                "á or ı.",
                most=texts.MAX_SEGMENTS,
                languages=", ".join(language_name(language) for language in costly),
            ),
            "error",
        )
        return
    site = next(site for site in g.user.sites if site.id == form.site_id.data)
    texts.set_sender_name(db.session, site, name)
    audit_trail.log("site.sms_name", site_id=site.id, detail={"name": name})
    db.session.commit()
    flash(_("Texts from %(site)s now start with %(name)s.", site=site.name, name=name))
