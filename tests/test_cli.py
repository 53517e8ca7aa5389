"""The command line: each command does its job, and bad input gets one clear line, never a
traceback."""

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Patient, Site, User
from tests.conftest import make_app


def fails_cleanly(result, message: str) -> None:
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_an_admin_sets_up_a_site_and_its_staff(runner):
    result = runner.invoke(
        args=[
            "sites",
            "add",
            "Hospital Torrecárdenas",
            "--timezone",
            "Europe/Madrid",
            "--language",
            "es",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Dr.Ruiz@Example.org",
            "--role",
            "clinician",
            "--site",
            "Hospital Torrecárdenas",
            "--password-stdin",
        ],
        input="a long enough passphrase\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert user.email == "dr.ruiz@example.org"
    assert [site.name for site in user.sites] == ["Hospital Torrecárdenas"]
    assert user.password_hash.startswith("$argon2id$")


def test_the_password_can_be_typed_at_a_prompt(runner, site):
    result = runner.invoke(
        args=["users", "create", "coord@example.org", "--role", "coordinator", "--site", site.name],
        input="a long enough passphrase\na long enough passphrase\n",
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["sites", "add", "Almería Colorectal Unit"], None, "already exists"),
        (
            ["sites", "add", "Elsewhere", "--timezone", "Mars/Olympus"],
            None,
            "not a known time zone",
        ),
        (
            ["sites", "add", "Elsewhere", "--timezone", "../../etc/passwd"],
            None,
            "not a known time zone",
        ),
        (
            [
                "users",
                "create",
                "a@example.org",
                "--role",
                "clinician",
                "--site",
                "Nowhere",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "no site called 'Nowhere'",
        ),
        (
            [
                "users",
                "create",
                "a@example.org",
                "--role",
                "surgeon",
                "--site",
                "x",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "Invalid value for '--role'",
        ),
        (
            [
                "users",
                "create",
                "not-an-address",
                "--role",
                "clinician",
                "--site",
                "Almería Colorectal Unit",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "is not an email address",
        ),
        (
            [
                "users",
                "create",
                "a@example.org",
                "--role",
                "clinician",
                "--site",
                "Almería Colorectal Unit",
                "--password-stdin",
            ],
            "short\n",
            "too weak",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Nowhere",
                "--phone",
                "+34612345678",
                "--language",
                "es",
            ],
            None,
            "no site called",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34912345678",
                "--language",
                "es",
            ],
            None,
            "not a mobile number",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "612345678",
                "--language",
                "es",
            ],
            None,
            "international format",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34 000 000 000",
                "--language",
                "es",
            ],
            None,
            "does not exist",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34612345678",
                "--language",
                "fr",
            ],
            None,
            "not a language",
        ),
        (
            [
                "patients",
                "add",
                "P-1",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34612345678",
                "--language",
                "es",
                "--index-date",
                "31/12/2026",
            ],
            None,
            "Invalid value for '--index-date'",
        ),
        (
            [
                "patients",
                "add",
                "",
                "--site",
                "Almería Colorectal Unit",
                "--phone",
                "+34612345678",
                "--language",
                "es",
            ],
            None,
            "The reference is required (1 to 64 characters)",
        ),
        (["instruments", "show", "sf-36"], None, "no instrument 'sf-36'"),
        (["invite", "NOBODY"], None, "no patient with reference 'NOBODY'"),
    ],
)
def test_bad_input_gets_one_clear_line_and_a_failing_exit(runner, site, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    fails_cleanly(result, message)


def test_a_patient_is_enrolled_with_a_normalised_number(runner, site):
    result = runner.invoke(
        args=[
            "patients",
            "add",
            "P-7",
            "--site",
            site.name,
            "--phone",
            "+34 612 34 56 78",
            "--language",
            "es",
            "--index-date",
            "2026-03-01",
        ]
    )
    assert result.exit_code == 0, result.output
    patient = db.session.scalar(select(Patient))
    assert (patient.phone, patient.timezone, str(patient.index_date)) == (
        "+34612345678",
        "Europe/Madrid",
        "2026-03-01",
    )


def test_a_reference_is_unique_within_a_site(runner, site, other_site, make_patient):
    make_patient(site, reference="P-1")
    args = ["patients", "add", "P-1", "--phone", "+905321234567", "--language", "tr"]
    fails_cleanly(runner.invoke(args=[*args, "--site", site.name]), "already has a patient")
    # Another site may use the same reference for its own patient.
    assert runner.invoke(args=[*args, "--site", other_site.name]).exit_code == 0


def test_invite_prints_the_private_link_last(runner, site, make_patient, app):
    make_patient(site, reference="P-1")
    result = runner.invoke(args=["invite", "P-1"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith(app.config["PUBLIC_URL"] + "/s/")
    assert len(link.rsplit("/", 1)[1]) == 22


def test_instruments_are_listed_with_their_wording_status(runner):
    result = runner.invoke(args=["instruments", "list"])
    assert result.exit_code == 0
    assert "qolaf-q" in result.output and "ccis" in result.output
    assert "provisional" in result.output


def test_an_instrument_is_shown_in_a_chosen_language(runner):
    result = runner.invoke(args=["instruments", "show", "ccis", "--language", "es"])
    assert result.exit_code == 0, result.output
    assert "[pad]" in result.output
    assert db.session.scalar(select(func.count()).select_from(Site)) == 0


def test_an_index_date_at_the_end_of_the_calendar_is_refused(runner, site):
    result = runner.invoke(
        args=[
            "patients",
            "add",
            "P-9",
            "--site",
            site.name,
            "--phone",
            "+34612345678",
            "--language",
            "es",
            "--index-date",
            "9999-12-31",
        ]
    )
    fails_cleanly(result, "The index date must be between")


@pytest.mark.parametrize(
    "command",
    [["translate", "status"], ["sites", "list"], ["patients", "list"]],
)
def test_a_database_never_migrated_gets_one_line_saying_what_to_run(tmp_path, command):
    empty = make_app(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = empty.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1, result.output
    assert "run `flask --app wsgi db upgrade` first" in result.output
    assert "Traceback" not in result.output
