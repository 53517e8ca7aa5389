"""Coordinator and administrator forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from survey import text
from survey.domain.enrolment import EnrolmentError, check_index_date
from survey.domain.languages import patient_languages
from survey.extensions import db
from survey.i18n import language_name
from survey.instruments import INSTRUMENT_IDS
from survey.phones import InvalidPhoneNumber, normalise_mobile
from survey.text import PlainText
from survey.timezones import InvalidTimezone, check_timezone

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice

    def option(value, label) -> SelectChoice:
        return SelectChoice(value, label)
except ImportError:  # pragma: no cover

    def option(value, label) -> tuple:
        return (value, label)


NO_SCHEDULE = 0
COMMON_ZONES = (
    "Europe/Madrid",
    "Atlantic/Canary",
    "Europe/Istanbul",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Rome",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Bogota",
    "America/Argentina/Buenos_Aires",
    "UTC",
)


class PatientDetails(FlaskForm):
    """What a coordinator can change about a patient after enrolment."""

    # The country a number written the national way is read in: the patient's site's, set by
    # the view (None: only international numbers).
    region: str | None = None

    def phone_region(self) -> str | None:
        return self.region

    phone = TelField(
        _l("Mobile number"),
        validators=[InputRequired(), Length(max=32)],
        description=_l(
            "As written in the site's country (e.g. 612 345 678 in Spain, 0532 123 45 67 in "
            "Turkey), or in international format starting with + and the country code."
        ),
    )
    language = SelectField(_l("Language for messages and questionnaires"))
    channel = SelectField(
        _l("Messages by"),
        choices=[("sms", _l("SMS")), ("whatsapp", _l("WhatsApp"))],
        default="sms",
    )
    timezone = StringField(
        _l("Time zone"),
        validators=[InputRequired(), Length(max=64)],
        description=_l(
            "Where the patient lives, e.g. Europe/Madrid. Messages are sent in their daytime."
        ),
    )
    index_date = DateField(
        _l("Index date"),
        validators=[Optional()],
        description=_l("The procedure date. Timepoints count from it."),
    )
    schedule_id = SelectField(_l("Follow-up schedule"), coerce=int)

    # The service's own checks, as field validators: every problem of a post is reported at
    # once, each on its field, instead of one at a time after the form passed.
    def validate_phone(self, field) -> None:
        try:
            normalise_mobile(field.data, self.phone_region())
        except InvalidPhoneNumber as error:
            raise ValidationError(str(error.args[0])) from None

    def validate_timezone(self, field) -> None:
        try:
            field.data = check_timezone(field.data)
        except InvalidTimezone as error:
            raise ValidationError(str(error.args[0])) from None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        schedule_chosen = self.schedule_id.data not in (None, NO_SCHEDULE)
        if schedule_chosen and self.index_date.data is None and not self.index_date.errors:
            self.index_date.errors = [_l("An index date is needed to follow a schedule.")]
            valid = False
        return valid

    def validate_index_date(self, field) -> None:
        try:
            check_index_date(field.data)
        except EnrolmentError as error:
            raise ValidationError(str(error)) from None

    def set_choices(self, schedules) -> None:
        self.language.choices = [
            option(code, language_name(code)) for code in patient_languages(db.session)
        ]
        self.schedule_id.choices = [option(schedule.id, schedule.name) for schedule in schedules]
        self.schedule_id.choices.append(option(NO_SCHEDULE, _l("None (invitations by hand)")))


class EnrolForm(PatientDetails):
    site_id = SelectField(_l("Site"), coerce=int)
    # Each site's country by id, set by the view: the number is read in the chosen site's.
    site_countries: dict[int, str | None] = {}

    def phone_region(self) -> str | None:
        return self.site_countries.get(self.site_id.data)

    reference = StringField(
        _l("Reference"),
        validators=[PlainText(text.PATIENT_REFERENCE)],
        description=_l(
            "The clinic's own study or record reference. It is never sent to the patient."
        ),
    )


class EditForm(PatientDetails):
    resend_failed = BooleanField(
        _l("Send the messages that failed again, to the number above"), default=True
    )


OTHER_LABEL = "other"


class NewEpisodeForm(FlaskForm):
    """A new episode of care: index date, schedule, a short name, and what becomes of the
    earlier episode's messages not yet sent."""

    index_date = DateField(
        _l("Index date of the new episode"),
        validators=[InputRequired()],
        description=_l("The new procedure date. The new timepoints count from it."),
    )
    schedule_id = SelectField(_l("Follow-up schedule"), coerce=int)
    label = SelectField(_l("Name of the episode (optional)"), default="")
    other_label = StringField(
        _l("Other name"),
        validators=[PlainText(text.EPISODE_LABEL)],
        description=_l("Only if you chose Other. A short name; no health details are needed."),
    )
    earlier = RadioField(
        _l("Messages of the earlier episodes not sent yet"),
        choices=[
            option("cancel", _l("Cancel them")),
            option("keep", _l("Keep them: its timepoints go on as planned")),
        ],
        validators=[InputRequired(_l("Choose whether to cancel or keep them."))],
    )
    confirmed = HiddenField(default="")
    # The episode that was current when the form was shown: a second post of the same
    # confirmation finds a newer one and starts nothing.
    after = IntegerField(validators=[Optional()])

    def validate_index_date(self, field) -> None:
        try:
            check_index_date(field.data)
        except EnrolmentError as error:
            raise ValidationError(str(error)) from None

    def set_choices(self, schedules, labels) -> None:
        self.schedule_id.choices = [option(schedule.id, schedule.name) for schedule in schedules]
        self.schedule_id.choices.append(option(NO_SCHEDULE, _l("None (invitations by hand)")))
        self.label.choices = [option("", _l("No name"))]
        self.label.choices += [option(key, name) for key, name in labels.items()]
        self.label.choices.append(option(OTHER_LABEL, _l("Other")))

    @property
    def chosen_label(self) -> str | None:
        if self.label.data == OTHER_LABEL:
            return self.other_label.data or None
        return self.label.data or None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TimepointForm(Form):
    label = StringField(_l("Timepoint"), validators=[Optional(), PlainText(text.TIMEPOINT_LABEL)])
    day = IntegerField(_l("Day"), validators=[Optional(), NumberRange(-365, 3650)])
    window_days = IntegerField(_l("Open for (days)"), validators=[Optional(), NumberRange(1, 365)])
    reminder_days = StringField(
        _l("Reminders (days after sending)"), validators=[Optional(), Length(max=40)]
    )
    instruments = MultiCheckboxField(
        _l("Questionnaires"),
        choices=[option(item, item) for item in INSTRUMENT_IDS],
        default=list(INSTRUMENT_IDS),
    )

    @property
    def blank(self) -> bool:
        return not (self.label.data or "").strip()


class ScheduleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[PlainText(text.SCHEDULE_NAME)])
    description = TextAreaField(
        _l("Description"), validators=[PlainText(text.SCHEDULE_DESCRIPTION)]
    )
    timepoints = FieldList(FormField(TimepointForm), min_entries=8, max_entries=20)


class SenderForm(FlaskForm):
    site_id = SelectField(_l("Site"), coerce=int)
    name = StringField(
        _l("Name in text messages"),
        validators=[PlainText(text.SENDER_NAME)],
        description=_l(
            'How the texts start, e.g. "Hospital Torrecárdenas". It must not '
            "say what patients are treated for."
        ),
    )
