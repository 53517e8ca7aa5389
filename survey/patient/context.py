"""What every patient request knows before its view runs: the invitation it answers (from the
session, never from the URL), the language it speaks, and the headers that keep it private."""

from flask import Response, abort, g, request, session
from flask_babel import refresh

from survey import connection_health
from survey.domain import submission
from survey.domain.languages import patient_languages
from survey.extensions import csrf, db
from survey.models import Invitation
from survey.settings import settings

# The keys patient pages keep in the session (staff keys are left alone): the invitation, and
# "tablet" when a clinic tablet opened it with a coordinator's code (survey/domain/handoff.py).
INVITATION_KEY = "invitation_id"
MODE_KEY = "answer_mode"
TABLET_ENDPOINTS = {"patient.tablet", "patient.tablet_code"}
# Pages that only read (a ?lang= pick writes one row, atomic by itself): on PostgreSQL their
# statements run without a transaction around them, saving its BEGIN and ROLLBACK.
READ_ONLY_PAGES = frozenset({"patient.start", "patient.step", "patient.review"})
# Pages that read the invitation as plain values (submission.PageInvitation) when they only
# show it: a questionnaire page without a ?lang= pick reads nothing else of it.
PLAIN_READ_PAGES = frozenset({"patient.step"})
# A questionnaire page posts well under 2 KB; anything far larger is not from our page.
MAX_POST_BYTES = 64 * 1024

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
}


def begin_patient_request() -> None:
    """Find the invitation and language, then check CSRF (so even that error page is in the
    patient's language)."""
    request.max_content_length = MAX_POST_BYTES
    # A link page never shows the invitation of an earlier link opened in this browser.
    from_link = request.endpoint == "patient.open_link" or request.endpoint in TABLET_ENDPOINTS
    g.invitation = None if from_link else session_invitation()
    g.site = g.invitation.patient.site if g.invitation else None
    g.locale = choose_language(request.args.get("lang"), g.invitation)
    refresh()  # the locale may have been looked up before this hook, e.g. by a flash message
    if request.method == "POST":
        csrf.protect()


def session_invitation() -> Invitation | None:
    """The invitation this browser opened by link, if it still exists."""
    invitation_id = session.get(INVITATION_KEY)
    if not isinstance(invitation_id, int):
        return None
    # The request's first read: on a connection the server closed unseen, read again.
    return connection_health.read_again_if_disconnected(
        db.session(), lambda: read_invitation(invitation_id)
    )


def read_invitation(invitation_id: int) -> Invitation | submission.PageInvitation | None:
    """The invitation with what its page shows, read in one statement on PostgreSQL: as plain
    values on a page that only shows it, else as the ORM object a request may write through."""
    reading = request.method in ("GET", "HEAD") and request.endpoint in READ_ONLY_PAGES
    if reading and not db.session().in_transaction() and db.engine.dialect.name == "postgresql":
        # The page's one statement is consistent by itself: no BEGIN and ROLLBACK around it.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    # Every patient page names the clinic (g.site), and a questionnaire page shows the saved
    # answers in the wording in use: on PostgreSQL, all in one statement.
    if reading and request.endpoint in PLAIN_READ_PAGES and "lang" not in request.args:
        return submission.read_page_invitation(db.session, invitation_id)
    return submission.load_invitation(db.session, invitation_id)


def remember_invitation(invitation: Invitation, mode: str | None = None) -> None:
    """Bind this browser's session to the invitation whose link it opened (replacing any
    earlier one; a staff member's sign-in in the same browser is left as it is). `mode` is
    "tablet" for a clinic tablet; a patient's own link answers as "web"."""
    session[INVITATION_KEY] = invitation.id
    if mode is None:
        session.pop(MODE_KEY, None)
    else:
        session[MODE_KEY] = mode
    # Permanent, so each request renews the idle limit instead of counting from the link.
    session.permanent = True


def choose_language(requested: str | None, invitation: Invitation | None) -> str:
    """The patient's pick on this page (remembered for the invitation), then the invitation's
    remembered pick, the patient's stored preference, the browser's languages, the site's."""
    languages = g.languages = patient_languages(db.session)
    if requested in languages:
        if invitation is not None:
            submission.set_language(db.session, invitation, requested)
        return requested
    if invitation is not None:
        for stored in (invitation.language, invitation.patient.language):
            if stored in languages:
                return stored
    browser = request.accept_languages.best_match(languages)
    if browser:
        return browser
    site = invitation.patient.site if invitation is not None else None
    if site is not None and site.default_language in languages:
        return site.default_language
    return settings().default_language


def add_private_headers(response: Response) -> Response:
    """Keep patient pages out of caches, referrers, search engines and other sites' frames."""
    response.headers.update(PRIVATE_HEADERS)
    return response


def require_invitation() -> Invitation:
    """The session's invitation, or a 403 page that asks the patient to open their link."""
    if g.invitation is None:
        abort(403)
    return g.invitation
