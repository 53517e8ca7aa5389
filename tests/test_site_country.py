"""A site's country: numbers typed as people write them there are stored in E.164, and
landlines and service numbers are refused with a message that says which they are."""

import pytest
from sqlalchemy import func, select

from survey.domain.enrolment import EnrolmentError, enrol_patient
from survey.domain.staff_setup import StaffSetupError, create_site, update_site
from survey.extensions import db
from survey.models import AuditEvent, Patient, Site
from survey.phones import InvalidPhoneNumber, normalise_mobile


@pytest.mark.parametrize(
    "typed, region, e164",
    [
        ("612 345 678", "ES", "+34612345678"),
        ("0532 123 45 67", "TR", "+905321234567"),
        ("+34 612 345 678", "TR", "+34612345678"),  # international wins over the country
        ("+90 532 123 45 67", None, "+905321234567"),
        ("+1 212 555 0123", None, "+12125550123"),  # FIXED_LINE_OR_MOBILE: cannot tell
    ],
)
def test_national_and_international_formats_give_e164(app, typed, region, e164):
    assert normalise_mobile(typed, region) == e164


@pytest.mark.parametrize(
    "typed, region, words",
    [
        ("912 345 678", "ES", "landline"),
        ("0212 123 45 67", "TR", "landline"),
        ("900 123 456", "ES", "service number"),  # toll-free
        ("803 123 456", "ES", "service number"),  # premium rate
        ("0850 123 45 67", "TR", "not a mobile number"),  # VoIP
        ("612 345 678", None, "international format"),  # no country: + needed
        ("612 345", "ES", "does not exist"),
    ],
)
def test_numbers_that_cannot_take_a_text_are_refused(app, typed, region, words):
    with pytest.raises(InvalidPhoneNumber) as refused:
        normalise_mobile(typed, region)
    assert words in str(refused.value.args[0])


def test_enrolment_reads_numbers_in_the_sites_country(app):
    site = create_site(db.session, "Hospital Sur", "Europe/Madrid", "es", country="es")
    db.session.commit()
    assert site.country == "ES"
    patient = enrol_patient(db.session, site, "N-1", "612 345 678", "es")
    assert patient.phone == "+34612345678"
    with pytest.raises(EnrolmentError, match="landline"):
        enrol_patient(db.session, site, "N-2", "950 123 456", "es")
    db.session.commit()
    assert db.session.scalar(select(func.count(Patient.id))) == 1


def test_a_site_change_is_checked_whole_and_reports_what_changed(app, site):
    with pytest.raises(StaffSetupError, match="country code"):
        update_site(db.session, site, country="Spain", contact="new contact")
    assert site.contact == "" and site.country is None  # nothing half-changed
    changed = update_site(db.session, site, country="es", contact="+34 950 000 000")
    assert changed == {"country": (None, "ES"), "contact": ("", "+34 950 000 000")}
    assert update_site(db.session, site, country="ES") == {}


def test_the_command_line_adds_and_edits_a_sites_country(runner, app):
    result = runner.invoke(args=["sites", "add", "Ankara Şehir", "--country", "tr"])
    assert result.exit_code == 0, result.output
    site = db.session.scalar(select(Site).where(Site.name == "Ankara Şehir"))
    assert site.country == "TR"
    result = runner.invoke(args=["sites", "edit", "Ankara Şehir", "--country", "ES"])
    assert result.exit_code == 0 and "country" in result.output
    db.session.refresh(site)
    assert site.country == "ES"
    assert db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "site.changed")
    )
    refused = runner.invoke(args=["sites", "edit", "Ankara Şehir", "--country", "XX"])
    assert refused.exit_code != 0 and "not a country code" in refused.output
    assert "Traceback" not in refused.output
    listed = runner.invoke(args=["sites", "list"])
    assert "Ankara Şehir\tUTC\ten\tES" in listed.output


def test_the_command_line_enrols_and_edits_with_national_numbers(runner, app):
    runner.invoke(args=["sites", "add", "Hospital Sur", "--country", "ES"])
    added = runner.invoke(
        args=[
            "patients",
            "add",
            "CLI-1",
            "--site",
            "Hospital Sur",
            "--phone",
            "612 345 678",
            "--language",
            "es",
        ]
    )
    assert added.exit_code == 0, added.output
    patient = db.session.scalar(select(Patient).where(Patient.reference == "CLI-1"))
    assert patient.phone == "+34612345678"
    refused = runner.invoke(
        args=["patients", "edit", "CLI-1", "--site", "Hospital Sur", "--phone", "950 123 456"]
    )
    assert refused.exit_code != 0 and "landline" in refused.output
    assert "Traceback" not in refused.output
    db.session.refresh(patient)
    assert patient.phone == "+34612345678"
    edited = runner.invoke(
        args=["patients", "edit", "CLI-1", "--site", "Hospital Sur", "--phone", "699 000 111"]
    )
    assert edited.exit_code == 0, edited.output
    db.session.refresh(patient)
    assert patient.phone == "+34699000111"
