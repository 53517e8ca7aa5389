"""Administrator forms: a site's details, a new member of staff."""

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from survey import text
from survey.coordinate.forms import MultiCheckboxField, option
from survey.domain.languages import patient_languages
from survey.extensions import db
from survey.i18n import language_name
from survey.phones import COUNTRIES
from survey.text import PlainText
from survey.timezones import InvalidTimezone, check_timezone


def country_choices() -> list:
    """Every country whose numbering plan is known, by its name in the page's language."""
    names = get_locale().territories
    return [option("", _l("Choose a country"))] + [
        option(code, f"{names.get(code, code)} ({code})")
        for code in sorted(COUNTRIES, key=lambda code: names.get(code, code))
    ]


def a_time_zone(form, field) -> None:
    try:
        field.data = check_timezone(field.data)
    except InvalidTimezone as error:
        raise ValidationError(str(error.args[0])) from None


class SiteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[PlainText(text.SITE_NAME)])
    country = SelectField(
        _l("Country"),
        validators=[InputRequired(_l("Choose a country."))],
        description=_l(
            "Staff may then type patients' mobile numbers as they are written in this country."
        ),
    )
    timezone = StringField(
        _l("Time zone"),
        validators=[InputRequired(_l("Enter a time zone.")), Length(max=64), a_time_zone],
        description=_l("IANA name, e.g. Europe/Madrid. New patients get it unless told otherwise."),
    )
    # Choices are the languages patients can answer in, known only with the app (`__init__`).
    default_language = SelectField(_l("Default language"))
    contact = StringField(
        _l("Contact for patients"),
        validators=[PlainText(text.SITE_CONTACT)],
        description=_l(
            "How patients reach the clinic, e.g. a phone number. Texted to patients who reply HELP."
        ),
    )
    sms_name = StringField(
        _l("Name in text messages"),
        validators=[PlainText(text.SENDER_NAME)],
        description=_l(
            "How the texts start. It must not say what patients are treated for. Blank: the "
            "site's name."
        ),
    )
    patient_results = BooleanField(
        _l("Patients may see their own totals after sending"),
        description=_l(
            "Off unless you turn it on. Patients then see their own totals over time in plain "
            "words: no band names, no comparison with other patients."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.default_language.choices = [
            option(code, language_name(code)) for code in patient_languages(db.session)
        ]


class NewStaffForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[PlainText(text.EMAIL)])
    role = SelectField(_l("Role"))
    site_ids = MultiCheckboxField(_l("Sites"), coerce=int)
    require_second_factor = BooleanField(
        _l("Require a second factor (an authenticator app) at sign-in"), default=True
    )

    def validate_email(self, field) -> None:
        address = (field.data or "").strip()
        if "@" not in address or any(c.isspace() for c in address):
            raise ValidationError(_l("Enter an email address, e.g. name@hospital.example."))

    def validate_site_ids(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one site."))


class EditStaffForm(FlaskForm):
    role = SelectField(_l("Role"))
    site_ids = MultiCheckboxField(_l("Sites"), coerce=int)

    def validate_site_ids(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one site."))
