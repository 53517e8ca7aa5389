"""The text messages patients receive, in each language patients can answer in.

Rules for every text: it says who it is from (the clinic's name in text messages), carries
the link or the clinic's contact, and says how to stop messages. It never says what the
follow-up is about: no condition, named treatment or body part, in any language, because
anyone who sees the phone's lock screen can read it. It may say "your treatment", which
names nothing, so that the patient knows which time the questions are about: how they are
now, before it (an invitation that opens before the index date), or since it (every other).
The texts live here, complete in every language, rather than in the interface catalogs,
because what they cost (see `segments`) depends on their exact wording and is shown to the
clinic.

STOP and START stay in English in every language: they are the keywords the SMS provider
acts on (Twilio blocks and unblocks the number on them), whatever language the patient
speaks.
"""

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey import text
from survey.invitations import TOKEN_BYTES, link_url
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

# Each link text fits one GSM-7 segment in en and es and two UCS-2 segments in tr, with the
# neutral name and a 40-character public address (tests/outreach/test_segments.py): Spanish
# avoids á, í, ó and ú (é is GSM-7); Turkish cannot avoid ı, so it is kept short. A sender
# name that would push any text past two segments is refused (MAX_SEGMENTS).
TEXTS: dict[str, dict[str, str]] = {
    INVITATION_BEFORE: {
        "en": "{clinic}: how are you before your treatment? {link}\nReply STOP to opt out.",
        "es": "{clinic}: cuéntenos su estado antes del tratamiento: {link}\n"
        "Para darse de baja: STOP",
        "tr": "{clinic}: Tedavi öncesi nasılsınız? {link}\nSTOP: iptal",
    },
    INVITATION: {
        "en": "{clinic}: how have you been since your treatment? {link}\nReply STOP to opt out.",
        "es": "{clinic}: cuéntenos su estado desde el tratamiento: {link}\n"
        "Para darse de baja: STOP",
        "tr": "{clinic}: Tedaviden beri nasılsınız? {link}\nSTOP: iptal",
    },
    REMINDER_BEFORE: {
        "en": "{clinic}: reminder: how are you before your treatment? {link}\n"
        "Reply STOP to opt out.",
        "es": "{clinic}: recuerde contarnos su estado antes del tratamiento: {link}\n"
        "Para darse de baja: STOP",
        "tr": "{clinic}: Hatırlatma: tedavi öncesi nasılsınız? {link}\nSTOP: iptal",
    },
    REMINDER: {
        "en": "{clinic}: reminder: how have you been since your treatment? {link}\n"
        "Reply STOP to opt out.",
        "es": "{clinic}: recuerde contarnos su estado desde el tratamiento: {link}\n"
        "Para darse de baja: STOP",
        "tr": "{clinic}: Hatırlatma: tedaviden beri nasılsınız? {link}\nSTOP: iptal",
    },
    HELP: {
        "en": "{clinic}: for help, contact us at {contact}. "
        "Reply STOP to opt out, or START to receive messages again.",
        "es": "{clinic}: para cualquier consulta, contacte con nosotros en {contact}. "
        "Responda STOP para darse de baja o START para volver a recibir mensajes.",
        "tr": "{clinic}: Yardım için bize ulaşın: {contact}. "
        "Durdurmak için STOP, yeniden almak için START yazın.",
    },
    HELP_NO_CONTACT: {
        "en": "{clinic}: for help, please contact your clinic. "
        "Reply STOP to opt out, or START to receive messages again.",
        "es": "{clinic}: para cualquier consulta, contacte con su centro. "
        "Responda STOP para darse de baja o START para volver a recibir mensajes.",
        "tr": "{clinic}: Yardım için lütfen kliniğinizi arayın. "
        "Durdurmak için STOP, yeniden almak için START yazın.",
    },
    OPTED_OUT: {
        "en": "{clinic}: you will get no more messages from us. Reply START to get them again.",
        "es": "{clinic}: ya no le enviaremos mensajes. Responda START para volver a recibirlos.",
        "tr": "{clinic}: Size artık mesaj göndermeyeceğiz. Yeniden almak için START yazıp "
        "gönderin.",
    },
}
FALLBACK_LANGUAGE = "en"
# What texts start with until a site chooses its own SMS name: a site's own name may reveal
# the condition ("Colorectal Unit"), so it is never used.
NEUTRAL_NAMES = {"en": "Your clinic", "es": "Su centro", "tr": "Kliniğiniz"}

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


def render(kind: str, language: str, clinic: str, link: str = "", contact: str = "") -> str:
    """The text of one message; kept in memory only, never stored or logged."""
    texts = TEXTS[kind]
    template = texts.get(language) or texts[FALLBACK_LANGUAGE]
    return template.format(clinic=clinic, link=link, contact=contact)


def help_text(language: str, clinic: str, contact: str) -> str:
    """The reply to a patient who texts HELP."""
    contact = " ".join((contact or "").split())
    if contact:
        return render(HELP, language, clinic, contact=contact)
    return render(HELP_NO_CONTACT, language, clinic)


def neutral_name(language: str) -> str:
    return NEUTRAL_NAMES.get(language) or NEUTRAL_NAMES[FALLBACK_LANGUAGE]


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


def segments_by_language(name: str, link: str, contact: str = "+00 000 000 000") -> dict[str, int]:
    """The most segments any text costs in each language when it starts with `name`."""
    most: dict[str, int] = {}
    for kind in KINDS:
        for language, template in TEXTS[kind].items():
            body = template.format(clinic=name, link=link, contact=contact)
            most[language] = max(most.get(language, 0), count_segments(body).segments)
    return most


def too_costly(name: str, link: str) -> list[str]:
    """The languages in which a text starting with `name` would cost more than MAX_SEGMENTS."""
    return [
        language
        for language, segments in segments_by_language(name, link).items()
        if segments > MAX_SEGMENTS
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
