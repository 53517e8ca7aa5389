"""Patient views: thin; what an invitation allows and how answers are kept is in submission.py."""

from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from survey import errors
from survey.domain import submission
from survey.domain.invitations import asks_before_treatment
from survey.domain.submission import Incomplete, InvitationClosed, InvitationState
from survey.domain.triage import contact
from survey.domain.triage import settings as triage_settings
from survey.extensions import db
from survey.instruments import Instrument
from survey.models import ResponseMode, utcnow
from survey.patient.blueprint import bp
from survey.patient.context import MODE_KEY, remember_invitation, require_invitation
from survey.patient.forms import BadPost, parse_contact, parse_page
from survey.patient.own_results import own_results
from survey.security.limits import LINK_GUESSES, limited

# Each page a patient may land on when they cannot answer: status, title, what happened and
# what to do. None of them names the patient; only those reached with a valid link name the
# clinic (in the header and the contact line).
PROBLEMS = {
    "unknown": (
        404,
        _l("This link does not work"),
        _l(
            "The link may be incomplete. Check that you opened the whole link from your text "
            "message. If it still does not work, please contact your clinic."
        ),
    ),
    InvitationState.EXPIRED: (
        410,
        _l("This link has expired"),
        _l(
            "The time to answer these questionnaires has passed. If you would still like to "
            "answer, please contact your clinic."
        ),
    ),
    InvitationState.CANCELLED: (
        410,
        _l("These questionnaires are no longer needed"),
        _l(
            "Your clinic has cancelled them, so there is nothing to do. If you have a question, "
            "please contact your clinic."
        ),
    ),
    InvitationState.NOT_YET_OPEN: (
        403,
        _l("These questionnaires are not open yet"),
        _l("You can answer them from %(date)s. Please open the link again then."),
    ),
    "no session": (
        403,
        _l("Please open your link again"),
        _l(
            "For your privacy, this page stops working after a while. Open the link in your "
            "text message again to continue. The answers you saved are kept."
        ),
    ),
    "page expired": (
        400,
        _l("This page has expired"),
        _l(
            "For your privacy, pages stop working after a while, so the answers on this page "
            "were not saved. Open the link in your text message again to continue. Answers "
            "saved earlier are kept."
        ),
    ),
    "bad post": (
        400,
        _l("Something was wrong with what was sent"),
        _l("Nothing from this page was saved. Please go back, choose your answers and try again."),
    ),
    "not found": (
        404,
        _l("Page not found"),
        _l("There is nothing at this address. Open the link in your text message again."),
    ),
    "too large": (
        413,
        _l("Too much was sent"),
        _l("Nothing from this page was saved. Please go back and try again."),
    ),
}
HTTP_PROBLEMS = {400: "bad post", 403: "no session", 404: "not found", 413: "too large"}


@bp.get("/s/", defaults={"token": ""})
@bp.get("/s/<path:token>")
@limited(LINK_GUESSES)
def open_link(token: str):
    """Swap the private link for a session bound to its invitation, then drop the token."""
    invitation = submission.open_link(db.session, token)
    if invitation is None:
        return problem("unknown")
    remember_invitation(invitation)
    return redirect(url_for(".start"), code=303)


@bp.get("/survey")
def start():
    """The welcome page, or the page where the patient stopped last time."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state != InvitationState.OPEN:
        return closed(state)
    instruments = submission.instruments_of(db.session, invitation)
    saved = submission.saved_answers(db.session, invitation)
    if saved:
        return redirect(url_for(".step", step=submission.resume_step(instruments, saved)))
    item_count = sum(len(instrument.items) for instrument in instruments)
    return render_template(
        "patient/welcome.html",
        instruments=instruments,
        minutes=max(1, round(item_count / 8)),  # about 8 answers a minute on a phone
        before_treatment=asks_before_treatment(invitation),
    )


@bp.route("/survey/<int:step>", methods=["GET", "POST"])
def step(step: int):
    """One questionnaire: show it with the answers saved so far, or save what was posted."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state != InvitationState.OPEN:
        return closed(state)
    instruments = submission.instruments_of(db.session, invitation)
    if not 1 <= step <= len(instruments):
        return problem("not found")
    instrument = instruments[step - 1]
    saved = submission.saved_answers(db.session, invitation).get(instrument.id, {})
    if request.method == "GET":
        # ?check=1: sent back here by a submit that found this page incomplete.
        missing = unanswered(instrument, saved) if request.args.get("check") else []
        return questionnaire_page(instruments, step, saved, missing)

    try:
        if request.files:
            raise BadPost("a file is not an answer")
        post = parse_page(request.form, instrument, g.languages)
    except BadPost as error:
        current_app.logger.info("refused a questionnaire post: %s", error)
        return problem("bad post")
    answered = saved | post.answers
    missing = unanswered(instrument, answered)
    # "next" on the last page sends (the review page's Send button posts it); the last
    # page's own button asks for "review" first.
    if post.action == "next" and step == len(instruments) and not missing:
        return send_answers(invitation, instrument, post.answers)
    try:
        submission.save_answers(db.session, invitation.id, instrument.id, post.answers)
    except InvitationClosed as error:
        return closed(error.state)

    if post.action == "save":
        return "", 204
    if post.action == "language":
        submission.set_language(db.session, invitation, post.language)
        return redirect(url_for(".step", step=step), code=303)
    if post.action == "back":
        return redirect(url_for(".step", step=max(step - 1, 1)), code=303)
    if missing:
        return questionnaire_page(instruments, step, answered, missing), 422
    if post.action == "review" or request.args.get("review"):
        return redirect(url_for(".review"), code=303)
    return redirect(url_for(".step", step=step + 1), code=303)


@bp.get("/survey/review")
def review():
    """Every answer before sending, each a tap away from being changed."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state != InvitationState.OPEN:
        return closed(state)
    instruments = submission.instruments_of(db.session, invitation)
    saved = submission.saved_answers(db.session, invitation)
    for number, instrument in enumerate(instruments, start=1):
        if unanswered(instrument, saved.get(instrument.id, {})):
            return redirect(url_for(".step", step=number, check=1))
    return render_template(
        "patient/review.html", instruments=instruments, saved=saved, steps=len(instruments)
    )


def send_answers(invitation, instrument: Instrument, last_answers: dict[str, int]):
    """The last page, complete, with Send: save it and submit everything in one go."""
    try:
        submission.submit(
            db.session,
            invitation.id,
            str(get_locale()),
            last_page=(instrument.id, last_answers),
            mode=ResponseMode.TABLET if session.get(MODE_KEY) == "tablet" else ResponseMode.WEB,
        )
    except Incomplete as error:
        return redirect(url_for(".step", step=error.step, check=1), code=303)
    except InvitationClosed as error:
        return closed(error.state)
    return redirect(url_for(".done"), code=303)


@bp.get("/survey/done")
def done():
    """Thank you: shown after submitting, and for every later visit or repeated submit."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state == InvitationState.OPEN:
        return redirect(url_for(".start"))
    if state != InvitationState.COMPLETED:
        return closed(state)
    return done_page(invitation)


@bp.get("/survey/results")
def results():
    """The patient's own totals over time, where their site shows them (after sending)."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state == InvitationState.OPEN:
        return redirect(url_for(".start"))
    if state != InvitationState.COMPLETED:
        return closed(state)
    if not invitation.patient.site.patient_results:
        return problem("not found")
    return render_template(
        "patient/results.html", courses=own_results(db.session, invitation), format_day=format_day
    )


def format_day(day) -> str:
    return format_date(day, format="long", locale=get_locale())


@bp.post("/survey/contact")
def ask_for_contact():
    """ "Please contact me", from the thank-you page: recorded once, then the thank-you page
    says what happens next. The reason travels in the post body only, never in a URL."""
    invitation = require_invitation()
    state = submission.state_of(invitation)
    if state == InvitationState.OPEN:
        return redirect(url_for(".start"), code=303)
    if state != InvitationState.COMPLETED:
        return closed(state)
    try:
        if request.files:
            raise BadPost("a file is not a reason")
        reason = parse_contact(request.form)
    except BadPost as error:
        current_app.logger.info("refused a contact request post: %s", error)
        return problem("bad post")
    try:
        contact.request_contact(db.session, invitation.id, reason, utcnow())
    except contact.ReasonRefused as refused:
        return done_page(invitation, reason=reason, error=refused.kind, status=422)
    return redirect(url_for(".done"), code=303)


def done_page(invitation, reason: str = "", error: str | None = None, status: int = 200):
    """The thank-you page: the offer to be contacted, or, once asked, what happens next in
    the site's own words (else the service's)."""
    asked = contact.request_for(db.session, invitation.id)
    reply = (
        triage_settings.contact_reply(db.session, invitation.patient.site_id, str(get_locale()))
        if asked
        else None
    )
    return render_template(
        "patient/done.html",
        asked=asked,
        reply=reply,
        reason=reason,
        error=error,
        reason_max=contact.REASON_MAX,
    ), status


@bp.errorhandler(CSRFError)
def page_expired(error):
    """A post without a valid CSRF token, usually from a page left open too long."""
    return problem("page expired")


@bp.errorhandler(HTTPException)
def http_problem(error: HTTPException):
    """Errors on patient pages, on the patient's page layout and in their language."""
    if error.code in HTTP_PROBLEMS:
        return problem(HTTP_PROBLEMS[error.code])
    title, message = errors.MESSAGES.get(error.code, (error.name, error.description))
    return render_template("patient/problem.html", title=title, message=message), error.code


def unanswered(instrument: Instrument, answered: dict[str, int]) -> list[str]:
    """The ids of the instrument's items without an answer, in order."""
    return [item.id for item in instrument.items if item.id not in answered]


def questionnaire_page(instruments, step: int, answered: dict, missing: list[str]):
    """The page for one questionnaire, with answers checked and unanswered items flagged."""
    return render_template(
        "patient/questionnaire.html",
        instrument=instruments[step - 1],
        step=step,
        steps=len(instruments),
        answered=answered,
        # Counted here: Jinja's selectattr, list and length filters were a twentieth of the
        # page's CPU.
        answered_count=sum(item.id in answered for item in instruments[step - 1].items),
        missing=missing,
        reviewing=bool(request.args.get("review")),
    )


def closed(state: InvitationState):
    """Where a patient goes when the invitation cannot take answers now."""
    if state == InvitationState.COMPLETED:
        return redirect(url_for(".done"), code=303)
    return problem(state)


def problem(kind):
    """A calm page saying what happened and what to do, with the matching status code."""
    status, title, message = PROBLEMS[kind]
    if kind == InvitationState.NOT_YET_OPEN:
        message = message % {"date": opening_date()}
    return render_template("patient/problem.html", title=title, message=message), status


def opening_date() -> str:
    """The day the session's invitation opens, in the patient's time zone and language."""
    invitation = g.invitation
    local = invitation.opens_at.astimezone(ZoneInfo(invitation.patient.timezone))
    return format_date(local.date(), format="long", locale=get_locale())
