"""Helpers shared by the coordinator views: access, settings, and what templates need."""

from flask import abort, current_app, g, redirect, request, url_for

from survey.clinic.access import patient_for
from survey.coordinate.forms import COMMON_ZONES
from survey.date_text import local_datetime
from survey.domain.episodes import episode_name, label_text
from survey.domain.invitation_dates import describe as describe_invitation
from survey.extensions import db
from survey.models import Invitation, Message
from survey.outreach import actions, explain
from survey.outreach.alarms import alarms_for
from survey.outreach.policy import SendingRules
from survey.phones import display
from survey.settings import settings


def sending_rules() -> SendingRules:
    return SendingRules.from_config(current_app.config)


def load_patient(patient_id: int):
    """The patient, if the signed-in user's sites include theirs; 404 otherwise."""
    patient = patient_for(db.session, g.user, patient_id)
    if patient is None:
        abort(404)
    return patient


def load_message(message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None or message.patient.site_id not in g.user.site_ids:
        abort(404)
    return message


def load_invitation(invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.patient.site_id not in g.user.site_ids:
        abort(404)
    return invitation


def back_to(patient_id: int):
    """Back to the page the action was taken from: the attention queue or the patient."""
    if request.form.get("back") == "attention":
        return redirect(url_for("coordinate.attention"))
    return redirect(url_for("coordinate.patient", patient_id=patient_id))


# A moment as the clock reads where the patient lives, in the reader's language, e.g.
# "Mar 2, 2026, 9:00 AM CET" (survey/i18n.py).
local_time = local_datetime


def coordinator_helpers() -> dict:
    """What every coordinator page's template may use (the blueprint's context processor)."""
    user = g.get("user")
    return {
        # Every coordinator page shows a paused channel of the user's sites.
        "channel_alarms": alarms_for(db.session, user.site_ids) if user else [],
        "alarm_text": explain.alarm_text,
        # The channel field appears only where WhatsApp is set up.
        "whatsapp": bool(settings().twilio_whatsapp_from),
        "local_time": local_time,
        "episode_name": episode_name,
        "episode_label": label_text,
        "describe_invitation": describe_invitation,
        "status_label": explain.status_label,
        "kind_label": lambda kind: str(explain.KIND.get(kind, kind)),
        "explain": explain.explain,
        "number_problem": explain.number_problem,
        "can_send_now": lambda message, now: (
            actions.send_now_refusal(db.session, message, now) is None
        ),
        "can_undo_cancel": lambda message, now: actions.can_undo_cancel(db.session, message, now),
        "reminders_left": lambda message: len(actions.pending_reminders(db.session, message)),
        "display_phone": display,
        "zones": COMMON_ZONES,
    }
