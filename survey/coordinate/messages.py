"""The attention queue and what a coordinator can do to a message."""

from flask import flash, g, render_template
from flask_babel import gettext as _

from survey import audit
from survey.auth import staff_required
from survey.coordinate import bp
from survey.coordinate.common import COORDINATORS, back_to, load_invitation, load_message
from survey.coordinate.queries import attention_messages, late_messages, opted_out_patients
from survey.extensions import db
from survey.models import utcnow
from survey.outreach import actions


@bp.route("/attention")
@staff_required(*COORDINATORS)
def attention():
    """Messages that failed, were not delivered or whose outcome is unknown, and patients
    who opted out: each with what went wrong in plain words and what can be done."""
    now = utcnow()
    messages = attention_messages(db.session, g.user)
    opted_out = opted_out_patients(db.session, g.user)
    audit.log("attention.view", detail={"messages": len(messages), "opted_out": len(opted_out)})
    db.session.commit()
    return render_template(
        "coordinate/attention.html",
        messages=messages,
        opted_out=opted_out,
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


@bp.post("/messages/<int:message_id>/<any('send-now', 'cancel', 'retry', 'dismiss'):action>")
@staff_required(*COORDINATORS)
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
    if result is not None:
        detail["new_message"] = result.id
    audit.log(audit_action, subject=message.patient, detail=detail)
    db.session.commit()
    flash(done())
    return back_to(message.patient_id)


@bp.post("/invitations/<int:invitation_id>/resend")
@staff_required(*COORDINATORS)
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
    audit.log(
        "invitation.resend",
        subject=invitation.patient,
        detail={"invitation": invitation.id, "message": message.id},
    )
    db.session.commit()
    flash(_("The link will be sent again at the next dispatch (within quiet hours)."))
    return back_to(invitation.patient_id)
