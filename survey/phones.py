"""Mobile numbers: parsed and checked with `phonenumbers`, stored in E.164.

Staff may type a number as people write it in the site's country ("612 345 678" in Spain,
"0532 123 45 67" in Turkey) once the site has a country; otherwise, or for a number abroad,
in international format (+ and the country code).

Which numbers are refused, by what `phonenumbers.number_type` says of them:
- MOBILE is accepted.
- FIXED_LINE_OR_MOBILE is accepted: some numbering plans (the United States and Canada, +1)
  do not tell landlines from mobiles, so nothing here can. With SURVEY_TWILIO_LOOKUP=1, and
  for these numbers only, Twilio Lookup's line type decides (survey/line_types.py): mobile
  passes, a landline or service number is refused with the same words as below. Off (the
  default, since it costs per number and sends the number to a third party), or when Lookup
  cannot answer, such a landline is only found when its first text fails.
- FIXED_LINE (a landline), TOLL_FREE, PREMIUM_RATE, SHARED_COST, UAN (service numbers),
  VOIP, PERSONAL_NUMBER, PAGER, VOICEMAIL and UNKNOWN are refused. VOIP ranges mostly cannot
  receive SMS from an alphanumeric sender, and a personal (follow-me) number may ring a
  landline: a patient with one is asked for their mobile instead.
"""

import phonenumbers
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberType

from survey import line_types

# Numbers that can receive an SMS. FIXED_LINE_OR_MOBILE covers countries (such as the US)
# whose numbering does not tell the two apart.
TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
SERVICE = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.UAN,
}
# Countries a site may be in: every region whose numbering plan phonenumbers knows.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

# Why a number is refused, whether phonenumbers or Twilio Lookup found it out.
LANDLINE = _l("That is a landline, not a mobile number: SMS needs the patient's mobile.")
SERVICE_NUMBER = _l(
    "That is a service number (free-phone, premium-rate or shared-cost), not a "
    "mobile number: SMS needs the patient's mobile."
)
NOT_MOBILE = _l(
    "That is not a mobile number (it looks like a landline or a service number); "
    "SMS needs a mobile number."
)


class InvalidPhoneNumber(ValueError):
    """The number cannot receive SMS; the message says why in plain words."""


def check_country(code: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code in capitals, None for none, or ValueError."""
    code = (code or "").strip().upper()
    if not code:
        return None
    if code not in COUNTRIES:
        raise ValueError(code[:8])
    return code


def example(region: str | None) -> str:
    """A mobile number as it is written in the region (international without one)."""
    if region:
        number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if number is not None:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "+34 612 345 678"


def normalise_mobile(raw: str, region: str | None = None) -> str:
    """The E.164 form of a mobile number, or InvalidPhoneNumber.

    With a region (the site's country) a national number is read in that country's plan;
    without one the number must be international (start with + and the country code)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(_l("A mobile number is required."))
    if len(text) > 32:
        raise InvalidPhoneNumber(_l("That is too long to be a phone number."))
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        if region:
            raise InvalidPhoneNumber(
                _l(
                    "That is not a phone number. Write it as people do in the site's country, "
                    "e.g. %(example)s, or in international format starting with +.",
                    example=example(region),
                )
            ) from None
        raise InvalidPhoneNumber(
            _l("That is not a phone number. Use the international format, e.g. +34 612 345 678.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            _l("That number does not exist in its country's numbering plan. Check the digits.")
        )
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        raise InvalidPhoneNumber(LANDLINE)
    if kind in SERVICE:
        raise InvalidPhoneNumber(SERVICE_NUMBER)
    if kind not in TEXTABLE:
        raise InvalidPhoneNumber(NOT_MOBILE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        check_line_type(e164)
    return e164


def check_line_type(e164: str) -> None:
    """Refuse a number Twilio Lookup knows is not a mobile (SURVEY_TWILIO_LOOKUP); a number
    Lookup was not asked about, or could not answer for, passes."""
    found = line_types.line_type(e164)
    if found is None or found == line_types.MOBILE:
        return
    if found == "landline":
        raise InvalidPhoneNumber(LANDLINE)
    if found in line_types.SERVICE:
        raise InvalidPhoneNumber(SERVICE_NUMBER)
    raise InvalidPhoneNumber(NOT_MOBILE)


def display(e164: str | None) -> str:
    """A number in international format with spaces, for staff to read."""
    if not e164:
        return ""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
