"""Coordinator views of patients: the list, enrolment, one patient's schedule, and changes."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from survey.auth import staff_required
from survey.coordinate.blueprint import bp
from survey.coordinate.common import load_patient, sending_rules
from survey.coordinate.forms import NO_SCHEDULE, EditForm, EnrolForm, NewEpisodeForm, option
from survey.coordinate.queries import patient_messages, patient_replies, patient_rows
from survey.domain import audit_trail
from survey.domain.enrolment import EnrolmentError, ReferenceTaken
from survey.domain.episodes import LABELS, invitations_by_episode
from survey.extensions import db
from survey.models import MessageStatus, Patient, PatientStatus, Schedule, utcnow
from survey.outreach import actions, patient_schedule
from survey.outreach.invitation_messages import ScheduleChanges, pending_messages
from survey.outreach.schedule_definitions import active_schedules
from survey.querystring import search_text, whole_number
from survey.staff_areas import Area

PER_PAGE = 50


@bp.route("/")
@staff_required(Area.FOLLOW_UP)
def index():
    """The user's patients, with their next invitation and how the last message went."""
    search = search_text(request.args, "q")
    status = request.args.get("status", "")
    page = whole_number(request.args, "page", default=1, least=1)
    rows, total = patient_rows(
        db.session, g.user, utcnow(), search=search, status=status, page=page, per_page=PER_PAGE
    )
    audit_trail.log("followup.list", detail={"shown": len(rows), "page": page})
    db.session.commit()
    return render_template(
        "coordinate/index.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        search=search,
        status=status,
        now=utcnow(),
    )


@bp.route("/enrol", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def enrol():
    """Enrol a patient: details, schedule, and their invitations planned at once."""
    schedules = active_schedules(db.session)
    db.session.commit()  # the shipped default schedule, stored on first use
    form = EnrolForm()
    form.site_countries = {site.id: site.country for site in g.user.sites}
    form.set_choices(schedules)
    form.site_id.choices = [option(site.id, site.name) for site in g.user.sites]
    if request.method == "GET":
        first_site = g.user.sites[0] if g.user.sites else None
        if first_site is not None:
            form.timezone.data = first_site.timezone
            form.language.data = first_site.default_language
        form.schedule_id.data = schedules[0].id if schedules else NO_SCHEDULE
    if form.validate_on_submit():
        site = next(site for site in g.user.sites if site.id == form.site_id.data)
        schedule = _chosen_schedule(form.schedule_id.data)
        try:
            patient, changes = patient_schedule.enrol(
                db.session,
                site,
                form.reference.data,
                form.phone.data,
                form.language.data,
                form.timezone.data,
                form.index_date.data,
                schedule,
                utcnow(),
                sending_rules(),
            )
            patient.channel = patient_schedule.check_channel(form.channel.data or "sms")
        except ReferenceTaken as error:
            db.session.rollback()
            existing = db.session.get(Patient, error.patient_id) if error.patient_id else None
            if existing is not None and patient_schedule.is_enrolled_as(
                existing,
                phone=form.phone.data,
                language=form.language.data,
                timezone=form.timezone.data,
                index_date=form.index_date.data,
                schedule=schedule,
            ):
                # The same form posted twice (a double-click): show what the first one made.
                flash(
                    _(
                        "%(reference)s is already enrolled with these details.",
                        reference=existing.reference,
                    )
                )
                return redirect(url_for("coordinate.patient", patient_id=existing.id))
            flash(str(error), "error")
        except EnrolmentError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.flush()
            audit_trail.log(
                "patient.enrol",
                subject=patient,
                detail={
                    "schedule": schedule.name if schedule else None,
                    "index_date": str(patient.index_date) if patient.index_date else None,
                    "created": changes.created,
                },
            )
            db.session.commit()
            flash(_("%(reference)s is enrolled.", reference=patient.reference))
            _flash_changes(changes)
            return redirect(url_for("coordinate.patient", patient_id=patient.id))
    return render_template("coordinate/enrol.html", form=form)


@bp.route("/patients/<int:patient_id>")
@staff_required(Area.FOLLOW_UP)
def patient(patient_id: int):
    """One patient's follow-up: details, invitations, and every message with its status."""
    found = load_patient(patient_id)
    # The patient's replies are health data: the view that shows them is audited with them.
    replies = patient_replies(db.session, found)
    audit_trail.log("followup.view", subject=found, detail={"replies": [r.id for r in replies]})
    db.session.commit()
    return render_template(
        "coordinate/patient.html",
        patient=found,
        replies=replies,
        messages=patient_messages(db.session, found),
        groups=invitations_by_episode(found),
        now=utcnow(),
        Status=MessageStatus,
        PatientStatus=PatientStatus,
    )


@bp.route("/patients/<int:patient_id>/edit", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def edit(patient_id: int):
    """Change a patient's number, language, time zone, index date or schedule."""
    found = load_patient(patient_id)
    if found.status == PatientStatus.WITHDRAWN:
        flash(_("This patient has withdrawn; their details cannot change."), "error")
        return redirect(url_for("coordinate.patient", patient_id=found.id))
    schedules = active_schedules(db.session)
    if request.method == "GET":
        audit_trail.log("patient.edit_form", subject=found)  # shows the number and schedule
    db.session.commit()  # the shipped default schedule, stored on first use
    if found.schedule is not None and found.schedule not in schedules:
        schedules.append(found.schedule)  # a retired schedule stays selectable for its patients
    form = EditForm(obj=found)
    form.region = found.site.country
    form.set_choices(schedules)
    if request.method == "GET":
        form.schedule_id.data = found.schedule_id or NO_SCHEDULE
    if form.validate_on_submit():
        now = utcnow()
        try:
            changed, changes = patient_schedule.update_details(
                db.session,
                found,
                phone=form.phone.data,
                language=form.language.data,
                timezone=form.timezone.data,
                index_date=form.index_date.data,
                schedule=_chosen_schedule(form.schedule_id.data),
                now=now,
                rules=sending_rules(),
                channel=form.channel.data,
            )
        except EnrolmentError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            retried = (
                _retry_failed(found, now) if "phone" in changed and form.resend_failed.data else 0
            )
            audit_trail.log(
                "patient.edit",
                subject=found,
                detail={
                    "changed": sorted(changed),
                    **{
                        name: [str(old), str(new)]
                        for name, (old, new) in changed.items()
                        if name in ("index_date", "timezone", "language", "schedule_id")
                    },
                    "moved": changes.moved,
                    "created": changes.created,
                    "cancelled": changes.cancelled,
                    "retried": retried,
                },
            )
            db.session.commit()
            flash(_("The changes are saved.") if changed else _("Nothing was changed."))
            _flash_changes(changes)
            if retried:
                flash(
                    ngettext(
                        "%(num)d failed message will be sent again.",
                        "%(num)d failed messages will be sent again.",
                        retried,
                    )
                )
            return redirect(url_for("coordinate.patient", patient_id=found.id))
    return render_template("coordinate/edit.html", form=form, patient=found)


@bp.route("/patients/<int:patient_id>/episode", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def new_episode(patient_id: int):
    """Start a new episode of care (a definitive repair after a seton, a recurrence): a new
    index date and schedule, the earlier episode's pending messages cancelled or kept. The
    form is checked, then shown again to confirm before anything changes."""
    found = load_patient(patient_id)
    if found.status == PatientStatus.WITHDRAWN:
        flash(_("This patient has withdrawn; their details cannot change."), "error")
        return redirect(url_for("coordinate.patient", patient_id=found.id))
    schedules = active_schedules(db.session)
    if request.method == "GET":
        audit_trail.log("patient.episode_form", subject=found)
    db.session.commit()  # the shipped default schedule, stored on first use
    form = NewEpisodeForm()
    form.set_choices(schedules, LABELS)
    if request.method == "GET":
        form.schedule_id.data = found.schedule_id or (schedules[0].id if schedules else NO_SCHEDULE)
    earlier = found.current_episode
    pending = pending_messages(db.session, found)
    if request.method == "GET":
        form.after.data = earlier.number if earlier else None
    if not form.validate_on_submit():
        return render_template(
            "coordinate/episode.html", form=form, patient=found, pending=pending, confirm=False
        )
    if form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        return render_template(
            "coordinate/episode.html",
            form=form,
            patient=found,
            pending=pending,
            confirm=True,
            schedule=_chosen_schedule(form.schedule_id.data),
        )
    now = utcnow()
    try:
        started = patient_schedule.start_episode(
            db.session,
            found,
            index_date=form.index_date.data,
            schedule=_chosen_schedule(form.schedule_id.data),
            label=form.chosen_label,
            keep_earlier=form.earlier.data == "keep",
            now=now,
            rules=sending_rules(),
            user=g.user,
            after=form.after.data,
        )
    except patient_schedule.EpisodeAlreadyStarted as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("coordinate.patient", patient_id=found.id))
    except EnrolmentError as error:
        db.session.rollback()
        flash(str(error), "error")
        form.confirmed.data = ""
        return render_template(
            "coordinate/episode.html", form=form, patient=found, pending=pending, confirm=False
        )
    audit_trail.log(
        "patient.new_episode",
        subject=found,
        detail={
            "episode": started.episode.number,
            "index_date": str(started.episode.index_date),
            "schedule_id": started.episode.schedule_id,
            "earlier": form.earlier.data,
            "cancelled": started.cancelled,
            "cancelled_messages": started.cancelled_messages,
            "created": started.changes.created,
        },
    )
    db.session.commit()
    flash(_("Episode %(number)d has started.", number=started.episode.number))
    if started.cancelled_messages:
        flash(
            ngettext(
                "%(num)d message of the earlier episode was cancelled.",
                "%(num)d messages of the earlier episode were cancelled.",
                started.cancelled_messages,
            )
        )
    _flash_changes(started.changes)
    return redirect(url_for("coordinate.patient", patient_id=found.id))


def _retry_failed(patient, now) -> int:
    """After a new number: send again what failed and can still be answered."""
    retried = 0
    for messages in patient_messages(db.session, patient).values():
        for message in messages:
            if (
                message.status in actions.NEEDS_ATTENTION
                and message.resolved_at is None
                and message.status != MessageStatus.REVIEW
            ):
                try:
                    actions.retry(db.session, message, g.user, now)
                except actions.ActionError:
                    continue
                retried += 1
    return retried


@bp.post("/patients/<int:patient_id>/pause")
@staff_required(Area.FOLLOW_UP)
def pause(patient_id: int):
    """Hold a patient's messages (e.g. while in hospital); the schedule is kept."""
    return _change_status(patient_id, "pause")


@bp.post("/patients/<int:patient_id>/resume")
@staff_required(Area.FOLLOW_UP)
def resume(patient_id: int):
    """Let a paused patient's messages go again."""
    return _change_status(patient_id, "resume")


@bp.route("/patients/<int:patient_id>/withdraw", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def withdraw(patient_id: int):
    """Confirm, then end a patient's follow-up."""
    found = load_patient(patient_id)
    if request.method == "GET":
        audit_trail.log("patient.withdraw_form", subject=found)
        db.session.commit()
        return render_template("coordinate/withdraw.html", patient=found)
    return _change_status(patient_id, "withdraw")


def _change_status(patient_id: int, action: str):
    found = load_patient(patient_id)
    patient_schedule.lock(db.session, found)  # the same button pressed twice acts once
    try:
        if action == "pause":
            patient_schedule.pause(found)
            message = _("Messages to %(reference)s are paused.", reference=found.reference)
        elif action == "resume":
            patient_schedule.resume(found)
            message = _("Messages to %(reference)s will be sent again.", reference=found.reference)
        else:
            cancelled = patient_schedule.withdraw(db.session, found)
            message = _(
                "%(reference)s has withdrawn from follow-up. Nothing more will be sent.",
                reference=found.reference,
            )
    except EnrolmentError as error:
        flash(str(error), "error")
        return redirect(url_for("coordinate.patient", patient_id=found.id))
    detail = {"cancelled_messages": cancelled} if action == "withdraw" else None
    audit_trail.log(f"patient.{action}", subject=found, detail=detail)
    db.session.commit()
    flash(message)
    return redirect(url_for("coordinate.patient", patient_id=found.id))


def _chosen_schedule(schedule_id: int) -> Schedule | None:
    return None if schedule_id == NO_SCHEDULE else db.session.get(Schedule, schedule_id)


def _flash_changes(changes: ScheduleChanges) -> None:
    if changes.created:
        flash(_("Scheduled: %(labels)s.", labels=", ".join(changes.created)))
    if changes.moved:
        flash(_("Moved to the new dates: %(labels)s.", labels=", ".join(changes.moved)))
    if changes.cancelled:
        flash(_("Cancelled: %(labels)s.", labels=", ".join(changes.cancelled)))
    if changes.closed:
        flash(
            _(
                "Not scheduled, because their window has already closed: %(labels)s.",
                labels=", ".join(changes.closed),
            ),
            "warning",
        )
