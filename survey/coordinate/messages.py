"""The attention queue and what a coordinator can do to a message."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from survey.auth import staff_required
from survey.coordinate.blueprint import bp
from survey.coordinate.common import back_to, load_invitation, load_message
from survey.coordinate.queries import (
    attention_messages,
    late_messages,
    open_replies,
    opted_out_patients,
)
from survey.domain import audit_trail
from survey.extensions import db
from survey.models import Reply, utcnow
from survey.outreach import actions, alarms
from survey.staff_areas import Area


@bp.route("/attention")
@staff_required(Area.FOLLOW_UP)
def attention():
    """Messages that failed, were not delivered or whose outcome is unknown, and patients
    who opted out: each with what went wrong in plain words and what can be done."""
    now = utcnow()
    messages = attention_messages(db.session, g.user)
    opted_out = opted_out_patients(db.session, g.user)
    replies = open_replies(db.session, g.user)
    audit_trail.log(
        "attention.view",
        detail={
            "messages": len(messages),
            "opted_out": len(opted_out),
            # Replies are health data: which ones this person was shown.
            "replies": [reply.id for reply in replies],
        },
    )
    db.session.commit()
    return render_template(
        "coordinate/attention.html",
        messages=messages,
        opted_out=opted_out,
        replies=replies,
        late=late_messages(db.session, g.user, now),
        now=now,
    )


MESSAGE_ACTIONS = {
    "send-now": (
        actions.send_now,
        "message.send_now",
        lambda: _("The message will go at the next dispatch (within quiet hours)."),
    ),
    "cancel": (actions.cancel, "message.cancel", lambda: _("The message will not be sent.")),
    "undo-cancel": (
        actions.undo_cancel,
        "message.undo_cancel",
        lambda: _("The cancellation is undone: the message is scheduled again."),
    ),
    "retry": (
        actions.retry,
        "message.retry",
        lambda: _("The message will be sent again at the next dispatch."),
    ),
    "dismiss": (
        actions.dismiss,
        "message.dismiss",
        lambda: _("The message is off the attention list. Nothing more is sent."),
    ),
}


@bp.post(
    "/messages/<int:message_id>/"
    "<any('send-now', 'cancel', 'undo-cancel', 'retry', 'dismiss'):action>"
)
@staff_required(Area.FOLLOW_UP)
def message_action(message_id: int, action: str):
    """Send now, cancel, retry or dismiss one message."""
    message = load_message(message_id)
    change, audit_action, done = MESSAGE_ACTIONS[action]
    try:
        result = change(db.session, message, g.user, utcnow())
    except actions.ActionError as error:
        db.session.rollback()
        flash(str(error), "error")
        return back_to(message.patient_id)
    db.session.flush()
    detail = {"message": message.id, "kind": message.kind}
    if action in ("cancel", "undo-cancel") and message.kind == "invitation":
        detail["with_reminders"] = True
    if result is not None:
        detail["new_message"] = result.id
    audit_trail.log(audit_action, subject=message.patient, detail=detail)
    db.session.commit()
    flash(done())
    return back_to(message.patient_id)


@bp.post("/invitations/<int:invitation_id>/resend")
@staff_required(Area.FOLLOW_UP)
def resend(invitation_id: int):
    """Send an open timepoint's link again, as a new message."""
    invitation = load_invitation(invitation_id)
    try:
        message = actions.resend_link(db.session, invitation, g.user, utcnow())
    except actions.ActionError as error:
        db.session.rollback()
        flash(str(error), "error")
        return back_to(invitation.patient_id)
    db.session.flush()
    audit_trail.log(
        "invitation.resend",
        subject=invitation.patient,
        detail={"invitation": invitation.id, "message": message.id},
    )
    db.session.commit()
    flash(_("The link will be sent again at the next dispatch (within quiet hours)."))
    return back_to(invitation.patient_id)


@bp.post("/channel/<int:site_id>/resume")
@staff_required(Area.FOLLOW_UP)
def resume_channel(site_id: int):
    """Lift a site's channel alarm once its cause is fixed: the waiting messages go at the
    next dispatch, each once (they never left the outbox)."""
    site = next((site for site in g.user.sites if site.id == site_id), None)
    if site is None:
        abort(404)
    channel = request.form.get("channel", alarms.SMS)
    if channel not in alarms.CHANNELS:
        abort(400)
    if alarms.resume(db.session, site, g.user, utcnow(), channel):
        db.session.commit()
        flash(_("Sending for %(site)s resumes at the next dispatch.", site=site.name))
    else:
        db.session.rollback()
        flash(_("Sending for %(site)s was not paused.", site=site.name))
    return redirect(_same_site(request.referrer) or url_for("coordinate.attention"))


def _same_site(address: str | None) -> str | None:
    """Back to the coordinator page the button was pressed on, never to another site."""
    if address and address.startswith(request.host_url + "clinic/follow-up"):
        return address
    return None


@bp.post("/replies/<int:reply_id>/handled")
@staff_required(Area.FOLLOW_UP)
def reply_handled(reply_id: int):
    """Take a patient's reply off Needs attention: someone read it and did what it needed.
    Back to the page it was marked on: Needs attention, or the patient's page."""
    reply = db.session.get(Reply, reply_id, with_for_update=True)
    if reply is None or reply.site_id not in g.user.site_ids:
        abort(404)
    if reply.handled_at is None:
        reply.handled_at, reply.handled_by_id = utcnow(), g.user.id
        audit_trail.log("reply.handled", subject=reply.patient, detail={"reply": reply.id})
        db.session.commit()
        flash(_("The reply is marked handled."))
    else:
        db.session.rollback()
        flash(_("Someone has already handled this reply."))
    if request.form.get("back") == "patient":
        return redirect(url_for("coordinate.patient", patient_id=reply.patient_id) + "#replies")
    return redirect(url_for("coordinate.attention"))
