"""Mobile numbers: parsed and checked with `phonenumbers`, stored in E.164."""

import phonenumbers
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberType

# Numbers that can receive an SMS. FIXED_LINE_OR_MOBILE covers countries (such as the US)
# whose numbering does not tell the two apart.
TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhoneNumber(ValueError):
    """The number cannot receive SMS; the message says why in plain words."""


def normalise_mobile(raw: str, region: str | None = None) -> str:
    """The E.164 form of a mobile number, or InvalidPhoneNumber.

    Without a region the number must be international (start with + and the country code)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(_l("A mobile number is required."))
    if len(text) > 32:
        raise InvalidPhoneNumber(_l("That is too long to be a phone number."))
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise InvalidPhoneNumber(
            _l("That is not a phone number. Use the international format, e.g. +34 612 345 678.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            _l("That number does not exist in its country's numbering plan. Check the digits.")
        )
    if phonenumbers.number_type(number) not in TEXTABLE:
        raise InvalidPhoneNumber(
            _l(
                "That is not a mobile number (it looks like a landline or a service number); "
                "SMS needs a mobile number."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str | None) -> str:
    """A number in international format with spaces, for staff to read."""
    if not e164:
        return ""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
