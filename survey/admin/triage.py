"""The triage rules page: an admin sees each rule of their sites with its source, and sets the
site's own levels, thresholds, due times and the words patients read after asking to be
contacted. Saved settings are audited; items already assessed keep the rules they had."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from survey.admin.blueprint import bp
from survey.auth import staff_required
from survey.domain.freetext import FreeTextRefused, clean_free_text
from survey.domain.languages import interface_languages
from survey.domain.triage import labels
from survey.domain.triage.assessing import configured_points
from survey.domain.triage.rules import (
    ACTION_LEVELS,
    MAX_DUE_HOURS,
    OFF,
    POINTS_RULES,
    RulesError,
    shipped_rules,
)
from survey.domain.triage.settings import REPLY_MAX, save_settings, site_triage
from survey.extensions import db
from survey.instruments import CCIS, get_instrument
from survey.models import TriageLevel
from survey.querystring import parse_whole_number
from survey.staff_areas import Area

LEVEL_CHOICES = (OFF, *(str(level) for level in TriageLevel))
DEFAULT_REPLY = (
    "Your care team has been told and will contact you. If you need help urgently, do not "
    "wait: call your clinic or the emergency services."
)


class SettingsPost:
    """A triage settings post read strictly: every value checked, every problem named."""

    def __init__(self, form: MultiDict, languages) -> None:
        self.levels: dict[str, str] = {}
        self.points: dict[str, int | None] = {}
        self.due_hours: dict[str, int] = {}
        self.replies: dict[str, str] = {}
        self.problems: list[str] = []
        self.raw = form
        rules = [rule for rule in shipped_rules().rules if not rule.fixed]
        allowed = {"csrf_token", "site_id"}
        allowed |= {f"level-{rule.id}" for rule in rules}
        allowed |= {f"points-{rule_id}" for rule_id in POINTS_RULES}
        allowed |= {f"due-{level}" for level in ACTION_LEVELS}
        allowed |= {f"reply-{language}" for language in languages}
        if any(key not in allowed or len(form.getlist(key)) != 1 for key in form):
            raise ValueError("a field this page never sends")
        for rule in rules:
            level = form.get(f"level-{rule.id}", "")
            if level not in LEVEL_CHOICES:
                self.problems.append(_("Choose a level for every rule."))
            self.levels[rule.id] = level
        for rule_id in POINTS_RULES:
            raw = form.get(f"points-{rule_id}", "").strip()
            self.points[rule_id] = self._whole(
                raw,
                1,
                20,
                _(
                    "Points are a whole number from 1 to 20, or blank for the published "
                    "minimal important change."
                ),
            )
        for level in ACTION_LEVELS:
            raw = form.get(f"due-{level}", "").strip()
            problem = _("Due times are whole hours from 1 to %(max)d.", max=MAX_DUE_HOURS)
            hours = self._whole(raw, 1, MAX_DUE_HOURS, problem)
            if hours is None and raw == "":
                self.problems.append(problem)
            if hours is not None:
                self.due_hours[str(level)] = hours
        for language in languages:
            text = form.get(f"reply-{language}", "")
            try:
                clean_free_text(text, REPLY_MAX)
            except FreeTextRefused:
                self.problems.append(
                    _(
                        "What patients are told has at most %(max)d characters, and no control "
                        "characters.",
                        max=REPLY_MAX,
                    )
                )
            self.replies[language] = text
        self.problems = list(dict.fromkeys(self.problems))

    def _whole(self, raw: str, least: int, most: int, problem: str) -> int | None:
        if raw == "":
            return None
        value = parse_whole_number(raw, longest=4)
        if value is not None and least <= value <= most:
            return value
        self.problems.append(problem)
        return None


@bp.get("/triage")
@staff_required(Area.ADMINISTRATION)
def triage_rules():
    """Each site's triage rules with their sources, and the form to set its own."""
    return _page()


@bp.post("/triage")
@staff_required(Area.ADMINISTRATION)
def save_triage_rules():
    """Save one site's triage settings, or show what is wrong with them (nothing saved)."""
    raw_site = request.form.get("site_id", "")
    wanted = parse_whole_number(raw_site)
    site = next((s for s in g.user.sites if s.id == wanted), None)
    if site is None:
        abort(404)
    try:
        post = SettingsPost(request.form, interface_languages())
    except ValueError:
        abort(400)
    if not post.problems:
        try:
            save_settings(
                db.session, site, g.user, post.levels, post.points, post.due_hours, post.replies
            )
        except RulesError as error:
            db.session.rollback()
            current_app.logger.info("refused triage settings: %s", error)
            post.problems.append(_("These settings cannot be used. Check every field."))
    if post.problems:
        for problem in post.problems:
            flash(problem, "error")
        return _page(failed_site=site.id, post=post), 400
    flash(
        _(
            "The triage rules of %(site)s are saved. They apply to questionnaires answered "
            "from now on.",
            site=site.name,
        )
    )
    return redirect(url_for("admin.triage_rules"), code=303)


def _page(failed_site: int | None = None, post: SettingsPost | None = None):
    return render_template(
        "admin/triage.html",
        sites=[site_triage(db.session, site) for site in g.user.sites],
        shipped=shipped_rules(),
        failed_site=failed_site,
        post=post,
        labels=labels,
        level_choices=LEVEL_CHOICES,
        points_rules=POINTS_RULES,
        action_levels=[str(level) for level in ACTION_LEVELS],
        reply_max=REPLY_MAX,
        default_replies=default_replies(interface_languages()),
        default_points=configured_points()
        or get_instrument(CCIS).minimal_important_change.deterioration,
    )


def default_replies(languages) -> dict[str, str]:
    """What patients are told after asking to be contacted when a site has no words of its
    own, in each language, exactly as the thank-you page says it."""
    replies = {}
    for language in languages:
        with force_locale(language):
            replies[language] = _(DEFAULT_REPLY)
    return replies
