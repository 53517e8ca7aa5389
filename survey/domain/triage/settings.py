"""A site's own triage settings: each rule's level and threshold, how long each level may
wait, and what a patient who asks to be contacted is told next, per language.

Only what differs from the shipped defaults is stored, so a site that changed one rule keeps
following the defaults for the others as they evolve."""

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from survey.domain import audit_trail
from survey.domain.freetext import FreeTextRefused, clean_free_text
from survey.domain.triage.rules import OFF, RulesError, RuleSet, shipped_rules, site_rules
from survey.models import Site, TriageSettings, User

REPLY_MAX = 500


@dataclass(frozen=True)
class SiteTriage:
    """What the admin page shows for a site: the rules in force and the replies."""

    site: Site
    rules: RuleSet
    contact_reply: Mapping[str, str]


def site_triage(db: Session, site: Site) -> SiteTriage:
    settings = db.get(TriageSettings, site.id)
    if settings is None:
        return SiteTriage(site, shipped_rules(), {})
    try:
        rules = site_rules(settings.rules, settings.due_hours)
    except RulesError:
        rules = shipped_rules()
    return SiteTriage(site, rules, dict(settings.contact_reply or {}))


def contact_reply(db: Session, site_id: int, language: str) -> str | None:
    """The site's own words for what happens after a contact request, in `language`; None
    when it has none (the page then says the service's translated default)."""
    settings = db.get(TriageSettings, site_id)
    if settings is None:
        return None
    return (settings.contact_reply or {}).get(language) or None


def clean_reply(text: str | None) -> str:
    """A reply as stored (survey.domain.freetext); RulesError for one that cannot be kept."""
    try:
        return clean_free_text(text, REPLY_MAX)
    except FreeTextRefused as refused:
        raise RulesError(f"a reply to patients cannot be kept: {refused.kind}") from None


def save_settings(
    db: Session,
    site: Site,
    user: User,
    levels: Mapping[str, str],
    points: Mapping[str, int | None],
    due_hours: Mapping[str, int],
    replies: Mapping[str, str],
) -> RuleSet:
    """Check and store a site's settings (only what differs from the defaults), audited, and
    commit. Raises RulesError, with nothing stored, for anything the rules cannot use."""
    shipped = shipped_rules()
    overrides: dict[str, dict] = {}
    for rule in shipped.rules:
        if rule.fixed or rule.id not in levels:
            continue
        wanted = {"level": levels[rule.id], "points": points.get(rule.id)}
        shipped_level = str(rule.level) if rule.level else OFF
        if wanted["level"] != shipped_level or wanted["points"] != rule.points:
            overrides[rule.id] = wanted
    changed_hours = {
        level: hours for level, hours in due_hours.items() if shipped.due_hours.get(level) != hours
    }
    rules = site_rules(overrides, changed_hours)  # refuses what cannot be used
    cleaned = {language: clean_reply(text) for language, text in replies.items()}
    cleaned = {language: text for language, text in cleaned.items() if text}
    settings = db.get(TriageSettings, site.id) or TriageSettings(site_id=site.id)
    settings.rules, settings.due_hours, settings.contact_reply = overrides, changed_hours, cleaned
    settings.updated_by_id = user.id
    db.add(settings)
    audit_trail.record(
        db,
        "triage.settings",
        user=user,
        site_id=site.id,
        detail={"rules": overrides, "due_hours": changed_hours, "contact_reply": cleaned},
        remote_addr=audit_trail.request_address(),
    )
    db.commit()
    return rules
