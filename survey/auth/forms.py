"""Staff forms: sign-in, second-factor code, password change, second-factor set-up."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from survey.passwords import MAX_LENGTH, MIN_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    """The six-digit code from an authenticator app."""

    code = StringField(_l("Code from your authenticator app"), validators=[Length(max=32)])


def new_password_rules(form, field) -> None:
    """Length is what makes a password strong (NIST SP 800-63B); the same rule as the CLI."""
    if len(field.data or "") < MIN_LENGTH:
        raise ValidationError(_l("Use at least %(count)d characters.", count=MIN_LENGTH))
    if len(field.data) > MAX_LENGTH:
        raise ValidationError(_l("Use at most %(count)d characters.", count=MAX_LENGTH))


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        _l("Current password"), validators=[InputRequired(), Length(max=MAX_LENGTH)]
    )
    new = PasswordField(_l("New password"), validators=[InputRequired(), new_password_rules])
    confirm = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("new", message=_l("The new passwords differ."))],
    )


class TwoFactorEnrolForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app"), validators=[Length(max=32)])


class TwoFactorRemoveForm(FlaskForm):
    password = PasswordField(
        _l("Current password"), validators=[InputRequired(), Length(max=MAX_LENGTH)]
    )
    code = StringField(_l("Code from your authenticator app"), validators=[Length(max=32)])


class ConfirmForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class SetPasswordForm(FlaskForm):
    """Choosing a password through a one-time link from an admin."""

    new = PasswordField(_l("New password"), validators=[InputRequired(), new_password_rules])
    confirm = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("new", message=_l("The new passwords differ."))],
    )
