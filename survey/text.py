"""One policy for every name and free text the service stores, typed on a web form or given
on the command line: what a person can read is what is stored.

A text is normalised (Unicode NFC, so that "Almería" typed either way is one name; runs of
spaces folded to one; ends trimmed) and refused, with one line saying why, when it

- holds a control character (NUL, escape, line breaks in a one-line field...), a
  direction-changing or invisible formatting character (U+202A-U+202E, U+2066-U+2069,
  U+200B-U+200F...), a line or paragraph separator, a private-use, unassigned or surrogate code
  point (an undecodable byte on the command line): each can make a text read differently from
  what it is (a site name with U+202E reverses the rest of a patient's SMS), and PostgreSQL
  refuses NUL outright;
- is longer than its column holds (the rule takes the length from the model), or empty when
  a value is required.

`TextRule.clean` is the check; `PlainText` applies it to a WTForms field and `TextParam` to a
click argument or option, and the domain functions (create_site, enrol_patient,
create_schedule...) apply it again, so no path stores a text that has not passed it.
Machine-supplied texts that are only recorded (a browser's User-Agent, an imported file's
name) are scrubbed instead of refused (survey/characters.py, which also checks the
questionnaire definitions).
"""

import unicodedata
from dataclasses import dataclass

import click
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import InstrumentedAttribute
from wtforms import Field, Form
from wtforms.validators import StopValidation

from survey.characters import refused_characters
from survey.models import Episode, Invitation, Patient, Schedule, Site, SmsSender, Timepoint, User


class TextError(ValueError):
    """A text breaks the policy; the message says how, in one line."""


@dataclass(frozen=True)
class TextRule:
    """How one stored text is checked: its name in messages, the most characters its column
    holds, whether it may be empty, and whether it may be typed on several lines."""

    label: str
    longest: int
    required: bool = True
    lines: bool = False

    @classmethod
    def of(cls, column: InstrumentedAttribute, label, **options) -> "TextRule":
        """The rule for a model's String column, as long as the column allows."""
        return cls(label, column.property.columns[0].type.length, **options)

    def clean(self, value: object) -> str:
        """The text as it is stored, or TextError saying in one line why it cannot be."""
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise TextError(_l("%(field)s must be text.", field=self.label))
        value = unicodedata.normalize("NFC", value)
        if found := refused_characters(value, self.lines):
            raise TextError(
                _l(
                    "%(field)s: control, invisible and direction-changing characters are not "
                    "allowed (found %(found)s). Use letters, digits, spaces and punctuation.",
                    field=self.label,
                    found=", ".join(found[:3]) + (", ..." if len(found) > 3 else ""),
                )
            )
        value = " ".join(value.split())
        if self.required and not value:
            raise TextError(
                _l(
                    "%(field)s is required (1 to %(longest)d characters).",
                    field=self.label,
                    longest=self.longest,
                )
            )
        if len(value) > self.longest:
            raise TextError(
                _l(
                    "%(field)s is %(count)d characters long; at most %(longest)d fit.",
                    field=self.label,
                    count=len(value),
                    longest=self.longest,
                )
            )
        return value

    def is_valid(self, value: object) -> bool:
        """Whether `value` passes (for looking something up: a text that could never have
        been stored is simply not found, and never reaches a query)."""
        try:
            self.clean(value)
        except TextError:
            return False
        return True


class PlainText:
    """WTForms validator: the field must pass `rule`; its data becomes the cleaned text."""

    def __init__(self, rule: TextRule) -> None:
        self.rule = rule
        # Rendered as the input's `required` and `maxlength` attributes.
        self.field_flags = {"maxlength": rule.longest}
        if rule.required:
            self.field_flags["required"] = True

    def __call__(self, form: Form, field: Field) -> None:
        if not self.rule.required and not field.data:
            field.data = ""
            return
        try:
            field.data = self.rule.clean(field.data)
        except TextError as error:
            raise StopValidation(str(error)) from None


class TextParam(click.ParamType):
    """A click argument or option that must pass `rule`; the command gets the cleaned text.

    A refused value ends the command with exit status 1 and one line, "Error: " and the reason
    (the message names the field), without click's usage lines around it."""

    name = "text"

    def __init__(self, rule: TextRule) -> None:
        self.rule = rule

    def convert(self, value, param, ctx) -> str:
        try:
            return self.rule.clean(value)
        except TextError as error:
            raise click.ClickException(str(error)) from None


# Every name and free text people type that the service stores.
SITE_NAME = TextRule.of(Site.name, _l("The site name"))
SITE_CONTACT = TextRule.of(Site.contact, _l("The contact"), required=False)
EMAIL = TextRule.of(User.email, _l("The email address"))
PATIENT_REFERENCE = TextRule.of(Patient.reference, _l("The reference"))
SCHEDULE_NAME = TextRule.of(Schedule.name, _l("The schedule name"))
SCHEDULE_DESCRIPTION = TextRule.of(
    Schedule.description, _l("The description"), required=False, lines=True
)
TIMEPOINT_LABEL = TextRule.of(Timepoint.label, _l("The timepoint"))
INVITATION_TIMEPOINT = TextRule.of(Invitation.timepoint, _l("The timepoint"))
SENDER_NAME = TextRule.of(SmsSender.name, _l("The name in text messages"))
EPISODE_LABEL = TextRule.of(Episode.label, _l("The episode name"), required=False)

RULES = (
    SITE_NAME,
    SITE_CONTACT,
    EMAIL,
    PATIENT_REFERENCE,
    SCHEDULE_NAME,
    SCHEDULE_DESCRIPTION,
    TIMEPOINT_LABEL,
    INVITATION_TIMEPOINT,
    SENDER_NAME,
    EPISODE_LABEL,
)
