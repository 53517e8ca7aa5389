"""Answers that do not come from the patient's own phone: a clinic tablet handed the
patient's questionnaires with a short code, or answers given on paper or by phone and
entered by a coordinator. Both go through survey/domain/submission.py, so they are validated,
scored, kept with their wording and stored exactly once, like a patient's own."""

from dataclasses import dataclass

import segno
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from survey.auth import staff_required
from survey.coordinate.blueprint import bp
from survey.coordinate.common import load_invitation
from survey.domain import audit_trail, handoff, submission
from survey.domain.languages import patient_languages
from survey.domain.submission import Incomplete, InvitationClosed, InvitationState
from survey.extensions import db
from survey.instruments import Instrument
from survey.models import PatientStatus, ResponseMode, utcnow
from survey.settings import settings
from survey.staff_areas import Area

ENTRY_MODES = (ResponseMode.PAPER, ResponseMode.PHONE)
ENTRY_CONTROLS = frozenset({"csrf_token", "mode", "language"})


def answerable(invitation) -> bool:
    """Whether staff may hand over or enter this invitation now."""
    return (
        submission.state_of(invitation) == InvitationState.OPEN
        and invitation.patient.status != PatientStatus.WITHDRAWN
    )


@bp.post("/invitations/<int:invitation_id>/tablet")
@staff_required(Area.FOLLOW_UP)
def tablet_handoff(invitation_id: int):
    """A single-use code (and its QR code) that opens this invitation on a clinic tablet."""
    invitation = load_invitation(invitation_id)
    if not answerable(invitation):
        flash(_("These questionnaires cannot be answered now."), "error")
        return redirect(url_for("coordinate.patient", patient_id=invitation.patient_id))
    now = utcnow()
    code = handoff.make_code(db.session, invitation, g.user, now)
    audit_trail.log(
        "invitation.tablet_handoff",
        subject=invitation.patient,
        detail={"invitation": invitation.id, "expires_in_minutes": 15},
    )
    db.session.commit()
    url = f"{settings().public_url}/t/{code}"
    # Inline SVG: no image request, nothing cached; the address holds no health data.
    qr = segno.make(url, error="m").svg_inline(scale=6, title=_("QR code"), border=2)
    return render_template(
        "coordinate/tablet.html",
        invitation=invitation,
        code=handoff.grouped(code),
        qr=qr,
        tablet_page=f"{settings().public_url}/t",
        expires_at=now + handoff.LIFETIME,
    )


@dataclass
class Entry:
    """What the entry form posted: answers per questionnaire, and what is wrong with it."""

    answers: dict[str, dict[str, int]]
    missing: list[tuple[Instrument, str]]
    mode: str | None
    language: str | None


class BadEntry(ValueError):
    """A post the entry page could not have sent."""


def parse_entry(form: MultiDict, instruments: list[Instrument]) -> Entry:
    """Read the entry form strictly: every key one of ours, sent once, every value on the
    scale. Unanswered items and a missing mode are reported, not refused."""
    fields = {
        f"{instrument.id}.{item.id}": (instrument, item)
        for instrument in instruments
        for item in instrument.items
    }
    answers: dict[str, dict[str, int]] = {instrument.id: {} for instrument in instruments}
    for key, values in form.lists():
        if key not in fields and key not in ENTRY_CONTROLS:
            raise BadEntry(f"no field {key[:40]!r}")
        if len(values) != 1:
            raise BadEntry(f"{key[:40]!r} sent {len(values)} times")
        if key in fields:
            instrument, item = fields[key]
            scale = {str(option.value): option.value for option in instrument.options}
            if values[0] not in scale:
                raise BadEntry(f"{values[0][:40]!r} is not an answer")
            answers[instrument.id][item.id] = scale[values[0]]
    mode = form.get("mode")
    if mode is not None and mode not in ENTRY_MODES:
        raise BadEntry("unknown mode")
    language = form.get("language")
    if language is not None and language not in patient_languages(db.session):
        raise BadEntry("unknown language")
    missing = [
        (instrument, item.id)
        for instrument in instruments
        for item in instrument.items
        if item.id not in answers[instrument.id]
    ]
    return Entry(answers, missing, mode, language)


@bp.route("/invitations/<int:invitation_id>/enter", methods=["GET", "POST"])
@staff_required(Area.FOLLOW_UP)
def enter_answers(invitation_id: int):
    """Type in answers a patient gave on paper or by phone, all questionnaires on one page."""
    invitation = load_invitation(invitation_id)
    patient = invitation.patient
    if submission.state_of(invitation) == InvitationState.COMPLETED:
        # Typically the same form posted twice: the first post stored the answers.
        flash(_("These questionnaires were already answered; nothing was changed."), "warning")
        return redirect(url_for("coordinate.patient", patient_id=patient.id))
    if not answerable(invitation):
        flash(_("These questionnaires cannot be answered now."), "error")
        return redirect(url_for("coordinate.patient", patient_id=patient.id))
    instruments = submission.instruments_of(db.session, invitation)
    language = request.args.get("language", "")
    languages = patient_languages(db.session)
    if language not in languages:
        language = patient.language if patient.language in languages else languages[0]
    if request.method == "GET":
        audit_trail.log(
            "invitation.entry_form", subject=patient, detail={"invitation": invitation.id}
        )
        db.session.commit()
        return _entry_page(invitation, instruments, language, Entry({}, [], None, None))
    try:
        if request.files:
            raise BadEntry("a file is not an answer")
        entry = parse_entry(request.form, instruments)
    except BadEntry as error:
        current_app.logger.info("refused an answer entry post: %s", error)
        abort(400)
    language = entry.language or language
    if entry.missing or entry.mode is None:
        return _entry_page(invitation, instruments, language, entry), 422
    try:
        result = submission.submit(
            db.session,
            invitation.id,
            language,
            pages=entry.answers,
            mode=ResponseMode(entry.mode),
            entered_by_id=g.user.id,
        )
    except (Incomplete, InvitationClosed):
        db.session.rollback()
        flash(_("These questionnaires cannot be answered now."), "error")
        return redirect(url_for("coordinate.patient", patient_id=patient.id))
    if not result.first_time:
        flash(_("These questionnaires were already answered; nothing was changed."), "warning")
        return redirect(url_for("coordinate.patient", patient_id=patient.id))
    audit_trail.log(
        "response.enter",
        subject=patient,
        detail={
            "invitation": invitation.id,
            "mode": entry.mode,
            "language": language,
            "responses": [response.id for response in result.responses],
        },
    )
    db.session.commit()
    flash(_("The answers for %(timepoint)s are saved.", timepoint=invitation.timepoint))
    return redirect(url_for("coordinate.patient", patient_id=patient.id))


def _entry_page(invitation, instruments, language: str, entry: Entry):
    return render_template(
        "coordinate/enter.html",
        invitation=invitation,
        patient=invitation.patient,
        instruments=instruments,
        language=language,
        languages=patient_languages(db.session),
        entry=entry,
        missing={(instrument.id, item_id) for instrument, item_id in entry.missing},
        modes=ENTRY_MODES,
        posted=entry.mode is not None or bool(entry.answers),
    )
