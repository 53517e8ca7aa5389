"""The text messages patients receive, in each language patients can answer in.

Rules for every text: it says who it is from (the clinic's name in text messages), carries
the link or the clinic's contact, and says how to stop messages. It never says what the
follow-up is about: no condition, named treatment or body part, in any language, because
anyone who sees the phone's lock screen can read it. It may say "your treatment", which
names nothing, so that the patient knows which time the questions are about: how they are
now, before it (an invitation that opens before the index date), or since it (every other).
The English texts live here; their translations are in the interface catalogs (message
context "sms"), so a new language brings its texts with its catalog. What they cost (see
`segments`) depends on their exact wording: the clinic's *Text messages and costs* page and
`outreach texts` measure every language patients can answer in, and a test keeps the
shipped ones within the costs docs/outreach.md states.

STOP and START stay in English in every language: they are the keywords the SMS provider
acts on (Twilio blocks and unblocks the number on them), whatever language the patient
speaks.
"""

import re

from babel import Locale, UnknownLocaleError
from flask import has_app_context
from flask_babel import LazyString, force_locale, lazy_pgettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey import text
from survey.domain.invitations import TOKEN_BYTES, link_url
from survey.models import Site, SmsSender
from survey.outreach.segments import count_segments

INVITATION = "invitation"  # since the treatment
INVITATION_BEFORE = "invitation_before"  # how the patient is now, before the treatment
REMINDER = "reminder"
REMINDER_BEFORE = "reminder_before"
HELP = "help"
HELP_NO_CONTACT = "help_no_contact"
OPTED_OUT = "opted_out"  # the confirmation of an opt-out the provider did not act on itself
KINDS = (
    INVITATION_BEFORE,
    INVITATION,
    REMINDER_BEFORE,
    REMINDER,
    HELP,
    HELP_NO_CONTACT,
    OPTED_OUT,
)
# The texts that carry a link to the questionnaires.
LINK_KINDS = (INVITATION_BEFORE, INVITATION, REMINDER_BEFORE, REMINDER)

# The English texts are the catalogs' message ids (context "sms"); each interface catalog
# translates them, so a language's texts arrive with its catalog and no code changes.
# Each link text fits one GSM-7 segment in en and es and two UCS-2 segments in tr, with the
# neutral name and a 40-character public address (tests/outreach/test_segments.py): Spanish
# avoids á, í, ó and ú (é is GSM-7); Turkish cannot avoid ı, so it is kept short; Arabic is
# UCS-2 whatever it says (docs/outreach.md gives every language's cost). A sender name that
# would push any text past its language's budget is refused (`too_costly`).
SMS_CONTEXT = "sms"
TEXTS: dict[str, LazyString] = {
    INVITATION_BEFORE: lazy_pgettext(
        "sms", "{clinic}: how are you before your treatment? {link}\nReply STOP to opt out."
    ),
    INVITATION: lazy_pgettext(
        "sms", "{clinic}: how have you been since your treatment? {link}\nReply STOP to opt out."
    ),
    REMINDER_BEFORE: lazy_pgettext(
        "sms",
        "{clinic}: reminder: how are you before your treatment? {link}\nReply STOP to opt out.",
    ),
    REMINDER: lazy_pgettext(
        "sms",
        "{clinic}: reminder: how have you been since your treatment? {link}\n"
        "Reply STOP to opt out.",
    ),
    HELP: lazy_pgettext(
        "sms",
        "{clinic}: for help, contact us at {contact}. "
        "Reply STOP to opt out, or START to receive messages again.",
    ),
    HELP_NO_CONTACT: lazy_pgettext(
        "sms",
        "{clinic}: for help, please contact your clinic. "
        "Reply STOP to opt out, or START to receive messages again.",
    ),
    OPTED_OUT: lazy_pgettext(
        "sms", "{clinic}: you will get no more messages from us. Reply START to get them again."
    ),
}
# Unicode directional formatting for right-to-left texts. A phone picks a paragraph's
# direction from its first strong letter, and a text starts with the clinic's name, often in
# Latin letters: a mark at the start of each line keeps the paragraph right to left. The
# name (either script) is isolated on its own; the link and the contact number are isolated
# left to right, so "https://…/p/…" and "+90 212 …" read as they are typed, whatever sits
# next to them. Each costs one UCS-2 unit, counted like every other character.
RLM = "\u200f"  # RIGHT-TO-LEFT MARK
LRI = "\u2066"  # LEFT-TO-RIGHT ISOLATE
FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
FALLBACK_LANGUAGE = "en"
# What texts start with until a site chooses its own SMS name: a site's own name may reveal
# the condition ("Colorectal Unit"), so it is never used.
NEUTRAL_NAME = lazy_pgettext("sms", "Your clinic")

# Words that would tell a reader of the phone what the patient is treated for: word stems
# (matched at the start of a word) and whole words. A sender name containing one is refused;
# the texts above are tested against the same lists.
REVEALING_STEMS = (
    "fistul",
    "fístul",
    "fistül",
    "anüs",
    "rect",
    "rekt",
    "colo",
    "kolo",
    "proct",
    "prokt",
    "incontin",
    "inkontin",
    "surg",
    "cirug",
    "quirúrg",
    "quirurg",
    "cerrah",
    "ameliyat",
    "bowel",
    "intestin",
    "bağırsak",
    "hemorr",
    "hemoro",
    "basur",
    "oncolog",
    "onkoloj",
)
REVEALING_WORDS = ("anal", "ano", "anus")
SENDER_NAME_MAX = 40
MAX_SEGMENTS = 2


def link_text_kind(reminder: bool, before_treatment: bool) -> str:
    """Which text carries an invitation's link: first or reminder, before or since treatment."""
    if reminder:
        return REMINDER_BEFORE if before_treatment else REMINDER
    return INVITATION_BEFORE if before_treatment else INVITATION


def template(kind: str, language: str) -> str:
    """The text of `kind` in `language` from its catalog, placeholders still in; English for
    a language without one. Needs the application (its catalogs), as the dispatcher has."""
    if not has_app_context():
        raise RuntimeError("SMS texts come from the catalogs: render them in an app context")
    with force_locale(language):
        return str(TEXTS[kind])


def render(kind: str, language: str, clinic: str, link: str = "", contact: str = "") -> str:
    """The text of one message; kept in memory only, never stored or logged."""
    return fill(template(kind, language), language, clinic, link, contact)


def fill(wording: str, language: str, clinic: str, link: str = "", contact: str = "") -> str:
    """A template (`template`) with its placeholders filled in, as `render` does: the
    dispatcher reads each template once per pass and fills it for every message."""
    if is_right_to_left(language):
        body = wording.format(
            clinic=FSI + clinic + PDI,
            link=LRI + link + PDI if link else "",
            contact=LRI + contact + PDI if contact else "",
        )
        return "\n".join(RLM + line for line in body.split("\n"))
    return wording.format(clinic=clinic, link=link, contact=contact)


# What an approved WhatsApp template receives (survey/outreach/dispatch.py sends them as the
# Content API's ContentVariables): {{1}} the name texts start with, {{2}} the private link.
WHATSAPP_VARIABLES = (("1", "clinic"), ("2", "link"))


def whatsapp_template_text(language: str, kind: str = INVITATION) -> str:
    """The text to submit to WhatsApp for approval in `language`: the SMS wording with the
    template's variables where the name and the link go."""
    return template(kind, language).format(clinic="{{1}}", link="{{2}}", contact="")


def is_right_to_left(language: str) -> bool:
    try:
        return Locale.parse(language).character_order == "right-to-left"
    except (UnknownLocaleError, ValueError):
        return False


def help_text(language: str, clinic: str, contact: str) -> str:
    """The reply to a patient who texts HELP."""
    contact = " ".join((contact or "").split())
    if contact:
        return render(HELP, language, clinic, contact=contact)
    return render(HELP_NO_CONTACT, language, clinic)


def neutral_name(language: str) -> str:
    """The name texts in `language` start with until the site chooses one (from the catalog)."""
    if not has_app_context():
        raise RuntimeError("SMS texts come from the catalogs: render them in an app context")
    with force_locale(language):
        return str(NEUTRAL_NAME)


def chosen_sender_name(db: Session, site: Site) -> str | None:
    """The SMS name the site chose, or None if it has not chosen one yet."""
    chosen = db.get(SmsSender, site.id)
    return chosen.name if chosen else None


def sender_name(db: Session, site: Site, language: str = FALLBACK_LANGUAGE) -> str:
    """The name a site's texts in `language` start with: the site's SMS name, else a neutral
    default in that language (never the site's own name, which may reveal the condition)."""
    return chosen_sender_name(db, site) or neutral_name(language)


def set_sender_name(db: Session, site: Site, name: str) -> SmsSender:
    """Make a site's texts start with `name`; text.TextError when it breaks the text policy."""
    name = text.SENDER_NAME.clean(name)
    sender = db.get(SmsSender, site.id)
    if sender is None:
        try:
            # A savepoint: the site's first name posted twice at once adds its row twice,
            # and the database keeps one (the site is its primary key).
            with db.begin_nested():
                sender = SmsSender(site_id=site.id, name=name)
                db.add(sender)
            return sender
        except IntegrityError:
            sender = db.get(SmsSender, site.id, with_for_update=True)
    sender.name = name
    return sender


def segments_by_language(
    name: str | None, link: str, contact: str = "+00 000 000 000", languages=None
) -> dict[str, int]:
    """The most segments any text costs in each language patients can answer in when it
    starts with `name` (None: the neutral name of each language)."""
    if languages is None:
        from survey.domain.languages import patient_languages
        from survey.extensions import db

        languages = patient_languages(db.session)
    most: dict[str, int] = {}
    for language in languages:
        clinic = name or neutral_name(language)
        most[language] = max(
            count_segments(render(kind, language, clinic, link, contact)).segments for kind in KINDS
        )
    return most


def too_costly(name: str, link: str) -> list[str]:
    """The languages in which a text starting with `name` would cost more than its budget:
    MAX_SEGMENTS, or what the shipped text already costs with the neutral name where that is
    more (Arabic is UCS-2 whatever it says: a name may not make it dearer still)."""
    costs = segments_by_language(name, link)
    neutral = segments_by_language(None, link, languages=costs)
    return [
        language
        for language, segments in costs.items()
        if segments > max(MAX_SEGMENTS, neutral[language])
    ]


def revealing_words(name: str) -> list[str]:
    """The words in a proposed sender name that would reveal a health condition."""
    words = re.findall(r"\w+", name.casefold())
    return [
        word
        for word in words
        if word in REVEALING_WORDS or any(word.startswith(stem) for stem in REVEALING_STEMS)
    ]


def example_link(public_url: str) -> str:
    """A link as long as a real one, for showing what a text costs."""
    token_length = -(-TOKEN_BYTES * 4 // 3)  # base64url without padding
    return link_url(public_url, "x" * token_length)
