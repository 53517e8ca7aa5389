"""Enrolling patients in follow-up."""

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey import extensions, text
from survey.domain.languages import patient_languages
from survey.models import Episode, Patient, PatientSummary, Site
from survey.phones import InvalidPhoneNumber, normalise_mobile
from survey.timezones import InvalidTimezone, check_timezone


class EnrolmentError(ValueError):
    """A patient could not be enrolled; the message says why in plain words."""


class ReferenceTaken(EnrolmentError):
    """The site already has a patient with this reference (perhaps enrolled a moment ago by
    the same form, posted twice); `patient_id` is theirs."""

    def __init__(self, message, patient_id: int | None) -> None:
        super().__init__(message)
        self.patient_id = patient_id


def check_reference(reference: str) -> str:
    try:
        return text.PATIENT_REFERENCE.clean(reference)
    except text.TextError as error:
        raise EnrolmentError(str(error)) from None


def check_language(language: str, db: Session | None = None) -> str:
    """`language` if patients can answer in it: a complete interface catalog and wording for
    every instrument (survey/domain/languages.py); the list comes from the files, never from
    code."""
    languages = patient_languages(db or extensions.db.session)
    if language not in languages:
        raise EnrolmentError(
            _l(
                "%(language)s is not a language patients can answer in. Choose one of: "
                "%(choices)s.",
                language=repr(str(language)[:16]),
                choices=", ".join(languages),
            )
        )
    return language


# A procedure date outside these years is a typing mistake (and dates near the calendar's
# ends break the arithmetic of scheduling).
EARLIEST_INDEX_DATE = date(1990, 1, 1)
LATEST_INDEX_DATE = date(2100, 12, 31)


def check_index_date(index_date: date | None) -> date | None:
    if index_date is not None and not EARLIEST_INDEX_DATE <= index_date <= LATEST_INDEX_DATE:
        raise EnrolmentError(
            _l(
                "The index date must be between %(earliest)s and %(latest)s.",
                earliest=EARLIEST_INDEX_DATE.isoformat(),
                latest=LATEST_INDEX_DATE.isoformat(),
            )
        )
    return index_date


def enrol_patient(
    db: Session,
    site: Site,
    reference: str,
    phone: str | None,
    language: str,
    timezone: str | None = None,
    index_date: date | None = None,
) -> Patient:
    """Add a patient to a site's follow-up, after checking every field."""
    reference = check_reference(reference)
    try:
        e164 = normalise_mobile(phone, site.country) if phone else None
        zone = check_timezone(timezone or site.timezone)
    except (InvalidPhoneNumber, InvalidTimezone) as error:
        raise EnrolmentError(error.args[0]) from None
    check_language(language, db)
    check_index_date(index_date)
    taken = select(Patient.id).where(Patient.site_id == site.id, Patient.reference == reference)
    if (existing := db.scalar(taken)) is not None:
        raise _taken(site, reference, existing)
    patient = Patient(
        site=site,
        reference=reference,
        phone=e164,
        language=language,
        timezone=zone,
        index_date=index_date,
        # Empty until the first answers; every patient has one, so the list joins it plainly.
        summary=PatientSummary(),
        # Their first episode of care, from the same index date (survey/domain/episodes.py).
        episodes=[Episode(number=1, index_date=index_date)],
    )
    try:
        # A savepoint: the same form posted twice at once passes the check above twice, and
        # the database's unique (site, reference) refuses the second row.
        with db.begin_nested():
            db.add(patient)
    except IntegrityError:
        raise _taken(site, reference, db.scalar(taken)) from None
    return patient


def _taken(site: Site, reference: str, patient_id: int | None) -> ReferenceTaken:
    return ReferenceTaken(
        _l(
            "%(site)s already has a patient with reference %(reference)s.",
            site=site.name,
            reference=repr(reference),
        ),
        patient_id,
    )
