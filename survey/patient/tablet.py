"""A clinic tablet opening one patient's questionnaires with a coordinator's short code
(survey/domain/handoff.py): typed at /t, or scanned as a QR code that opens /t/<code>.

The tablet never holds a staff session: a staff sign-in found in its browser is ended before
the patient's questionnaires open, so a patient handed the tablet cannot reach staff pages."""

from flask import current_app, g, redirect, render_template, request, session, url_for

from survey.domain import audit_trail, handoff
from survey.domain.staff_sessions import end_session
from survey.extensions import db
from survey.patient.blueprint import bp
from survey.patient.context import remember_invitation
from survey.patient.forms import BadPost
from survey.security.limits import TABLET_CODE_GUESSES, limited

TABLET_FIELDS = frozenset({"csrf_token", "code"})


@bp.route("/t", methods=["GET", "POST"])
@limited(TABLET_CODE_GUESSES)
def tablet():
    """The page a tablet opens to type the code a coordinator shows."""
    if request.method == "GET":
        return render_template("patient/tablet.html", code="", error=False)
    try:
        if request.files:
            raise BadPost("a file is not a code")
        for key, values in request.form.lists():
            if key not in TABLET_FIELDS or len(values) != 1:
                raise BadPost(f"the code form has no field {key[:40]!r} (or sent it twice)")
    except BadPost as error:
        current_app.logger.info("refused a tablet code post: %s", error)
        return render_template("patient/tablet.html", code="", error=True), 400
    return open_with(request.form.get("code", ""))


@bp.get("/t/<code>")
@limited(TABLET_CODE_GUESSES)
def tablet_code(code: str):
    """The address in the QR code a coordinator shows: opens the questionnaires at once."""
    return open_with(code)


def open_with(code: str):
    invitation = handoff.redeem(db.session, code)
    if invitation is None:
        g.handoff_failed = True  # counted by the rate limit on wrong codes
        shown = code if handoff.normalise(code) else ""
        return render_template("patient/tablet.html", code=shown, error=True), 422
    if g.get("staff_session") is not None:
        # A coordinator signed in on this tablet: sign them out before the patient takes it.
        end_session(g.staff_session, "tablet handoff")
    audit_trail.record(
        db.session,
        "invitation.tablet_open",
        user=None,
        subject=invitation.patient,
        detail={"invitation": invitation.id},
        remote_addr=audit_trail.request_address(),
    )
    db.session.commit()
    session.clear()
    remember_invitation(invitation, mode="tablet")
    return redirect(url_for(".start"), code=303)
