"""One policy for every stored name and free text (survey/text.py), on the web and on the
command line alike: what fits its column and reads as what it is, or one clear line saying why
not, with nothing stored.

The command-line tests feed the Big List of Naughty Strings (tests/data/blns.json, MIT
licence beside it) and hand-picked hostile values to every command that stores or looks up a
typed text. What must be refused is worked out here from the Unicode categories themselves,
not by asking the validator."""

import unicodedata

import pytest
from sqlalchemy import func, select

from survey import text
from survey.extensions import db
from survey.models import (
    Episode,
    ImportedWording,
    Invitation,
    Patient,
    Schedule,
    Site,
    SmsSender,
    StaffSession,
    User,
)
from tests.conftest import PASSWORD, StaffActions, csrf_from
from tests.fixtures.patients import hostile_strings
from tests.instruments.builders import wording_file, write_json

# One naughty string of each kind, and the empty one (tests/fixtures/patients.py).
BLNS = ["", *hostile_strings()]
DIRECTION_CHANGING = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
HOSTILE = [
    *(f"Clinic {c}evil" for c in DIRECTION_CHANGING),
    "Clinic\u200bZero width",
    "Clinic\u200e\u200f marks",
    "Clinic\x00NUL",
    "Clinic\x1b[31mred",
    "Clinic\nSecond line",
    "Clinic\tTab",
    "Clinic\x85NEL",
    "Clinic\u2028separator",
    "Clinic\udcffundecodable byte",
    "Clinic\ue000private use",
    "x" * 201,
    "x" * 100_000,
    "",
    "   ",
]
assert len(BLNS) > 150 and all(isinstance(value, str) for value in BLNS)


def must_refuse(value: str, longest: int, lines: bool = False, required: bool = True) -> bool:
    """The policy, written out independently of survey/text.py."""
    for character in value:
        if lines and character in "\t\n\r":
            continue
        if unicodedata.category(character)[0] == "C" or unicodedata.category(character) in (
            "Zl",
            "Zp",
        ):
            return True
    folded = " ".join(unicodedata.normalize("NFC", value).split())
    return (required and not folded) or len(folded) > longest


def readable(value: str) -> bool:
    return not any(
        unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in value
    )


def rows(*models) -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in models)


def refused_in_one_line(result) -> None:
    output = result.output.strip()
    assert result.exit_code == 1, output
    assert "\n" not in output and output.startswith("Error: "), output
    assert "Traceback" not in output


# The validator.


@pytest.mark.parametrize("character", DIRECTION_CHANGING + ["\u200e", "\u200f", "\u061c"])
def test_direction_changing_characters_are_refused_by_name(character):
    with pytest.raises(text.TextError) as refused:
        text.SITE_NAME.clean(f"Hospital {character}Sur")
    message = str(refused.value)
    assert f"U+{ord(character):04X}" in message and "\n" not in message
    assert message.startswith("The site name:")


def test_names_are_normalised_to_what_a_reader_sees():
    assert text.SITE_NAME.clean("  Almeri\u0301a   Colorectal\u3000Unit ") == (
        "Almería Colorectal Unit"
    )
    assert text.SCHEDULE_DESCRIPTION.clean("Baseline,\r\nthen\t6 weeks.") == (
        "Baseline, then 6 weeks."
    )
    with pytest.raises(text.TextError, match="U\\+000A"):
        text.SCHEDULE_NAME.clean("Two\nlines")  # a one-line field takes no line break


def test_each_limit_is_what_its_column_holds():
    for rule, column in (
        (text.SITE_NAME, Site.name),
        (text.SITE_CONTACT, Site.contact),
        (text.EMAIL, User.email),
        (text.PATIENT_REFERENCE, Patient.reference),
        (text.SCHEDULE_NAME, Schedule.name),
        (text.SCHEDULE_DESCRIPTION, Schedule.description),
        (text.INVITATION_TIMEPOINT, Invitation.timepoint),
        (text.SENDER_NAME, SmsSender.name),
        (text.EPISODE_LABEL, Episode.label),
    ):
        longest = column.property.columns[0].type.length
        assert rule.longest == longest
        assert rule.clean("é" * longest) == "é" * longest
        with pytest.raises(text.TextError, match=f"at most {longest} fit"):
            rule.clean("é" * (longest + 1))
    assert len(text.RULES) == 10


def test_machine_supplied_text_is_scrubbed_not_refused():
    from survey.characters import scrub

    assert scrub("Mozilla/5.0 \u202e(evil)\x00", 200) == "Mozilla/5.0 \ufffd(evil)\ufffd"
    assert scrub("x" * 500, 200) == "x" * 200
    assert scrub("\x00", 10) == "\ufffd" and scrub("", 10) is None


# The command line.


def test_a_contact_longer_than_its_column_ends_in_one_line_and_stores_nothing(runner):
    before = rows(Site)
    result = runner.invoke(args=["sites", "add", "X", "--contact", "c" * 201])
    refused_in_one_line(result)
    assert "The contact is 201 characters long; at most 200 fit." in result.output
    assert rows(Site) == before
    assert runner.invoke(args=["sites", "add", "X", "--contact", "c" * 200]).exit_code == 0


@pytest.mark.parametrize(
    "option, longest",
    [("name", text.SITE_NAME.longest), ("--contact", text.SITE_CONTACT.longest)],
)
def test_sites_add_stores_every_naughty_string_that_reads_true_and_refuses_the_rest(
    runner, option, longest
):
    refused = stored = 0
    for n, value in enumerate(BLNS + HOSTILE):
        # "--" ends the options, so that a value such as "-1" is a name, as in a shell.
        args = (
            ["sites", "add", "--", value]
            if option == "name"
            else ["sites", "add", option, value, "--", f"S{n}"]
        )
        expect_refusal = must_refuse(value, longest, required=option == "name")
        before = rows(Site)
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            refused_in_one_line(result)
            assert rows(Site) == before, value
            refused += 1
            continue
        assert not expect_refusal, f"stored {value!r}"
        site = db.session.scalar(select(Site).order_by(Site.id.desc()))
        kept = site.name if option == "name" else site.contact
        assert readable(kept) and len(kept) <= longest
        assert kept == " ".join(unicodedata.normalize("NFC", value).split())
        stored += 1
    # Both outcomes happened: the corpus is mostly text that reads as what it is.
    assert stored > len(BLNS) // 2 and refused >= sum(
        must_refuse(value, longest, required=option == "name") for value in HOSTILE
    )


def test_invite_refuses_a_hostile_timepoint_and_stores_nothing(runner, site, make_patient):
    make_patient(site, reference="P-001")
    tried = 0
    for value in BLNS + HOSTILE:
        before = rows(Invitation)
        result = runner.invoke(args=["invite", "P-001", "--timepoint", value])
        tried += 1
        if must_refuse(value, text.INVITATION_TIMEPOINT.longest):
            refused_in_one_line(result)
            assert rows(Invitation) == before, value
        else:
            assert result.exit_code == 0, (value, result.output)
            stored = db.session.scalar(select(Invitation.timepoint).order_by(Invitation.id.desc()))
            assert readable(stored) and len(stored) <= 64
    assert tried == len(BLNS) + len(HOSTILE)


def test_patients_add_refuses_a_hostile_reference_and_stores_nothing(runner, site):
    assert HOSTILE and BLNS
    for n, value in enumerate(HOSTILE + BLNS[::7]):
        before = rows(Patient)
        result = runner.invoke(
            args=[
                "patients",
                "add",
                "--site",
                site.name,
                "--phone",
                f"+3461{n:07d}",
                "--language",
                "es",
                "--",
                value,
            ]
        )
        if must_refuse(value, text.PATIENT_REFERENCE.longest):
            refused_in_one_line(result)
            assert rows(Patient) == before, value
        elif result.exit_code != 0:
            refused_in_one_line(result)  # e.g. a reference that folds onto an earlier one
            assert rows(Patient) == before, value
        else:
            stored = db.session.scalar(select(Patient.reference).order_by(Patient.id.desc()))
            assert readable(stored) and len(stored) <= 64


def test_users_create_refuses_a_hostile_address_and_stores_nothing(runner, site):
    assert HOSTILE
    for value in HOSTILE:
        before = rows(User)
        result = runner.invoke(
            args=[
                "users",
                "create",
                "--role",
                "clinician",
                "--site",
                site.name,
                "--password-stdin",
                "--",
                value,
            ],
            input="a long enough passphrase\n",
        )
        refused_in_one_line(result)
        assert rows(User) == before, value


LOOKUPS = [  # "{}" is the hostile value; "--" before a positional one, as in a shell
    ["invite", "--", "{}"],
    ["invite", "--site", "{}", "--", "P-001"],
    ["patients", "edit", "--language", "es", "--", "{}"],
    ["patients", "pause", "--", "{}"],
    ["patients", "list", "--site", "{}"],
    ["users", "disable", "--", "{}"],
    ["users", "end-sessions", "--", "{}"],
    ["users", "create", "--role", "admin", "--site", "{}", "--", "a@clinic.example"],
    ["patients", "add", "--site", "{}", "--phone", "+34612345678", "--language", "es", "--", "P-9"],
    ["outreach", "schedules", "export", "--", "{}"],
    ["outreach", "schedules", "retire", "--", "{}"],
]


@pytest.mark.parametrize("command", LOOKUPS, ids=lambda args: " ".join(args[:2]))
def test_looking_something_up_by_a_hostile_value_finds_nothing_in_one_line(
    runner, site, make_patient, command
):
    make_patient(site, reference="P-001")
    models = (Site, Patient, Invitation, User, Schedule)
    values = [value for value in HOSTILE if value]  # an empty option means "not given"
    assert values
    for value in values:
        before = rows(*models)
        args = [part.replace("{}", value) for part in command]
        result = runner.invoke(args=args, input="a long enough passphrase\n")
        refused_in_one_line(result)
        assert rows(*models) == before, value


# The web forms and what browsers send.


@pytest.fixture
def admin(client, staff, site, make_user):
    user = make_user("admin", [site])
    staff.login(user.email)
    return user


def post(client, path: str, data: dict):
    token = csrf_from(client.get(path).text)
    return client.post(path, data={**data, "csrf_token": token})


@pytest.mark.parametrize("value", [f"Hospital {c}Sur" for c in DIRECTION_CHANGING[:2]])
def test_the_sender_name_form_refuses_direction_changing_characters(client, admin, site, value):
    page = post(client, "/clinic/follow-up/texts", {"site_id": site.id, "name": value})
    assert page.status_code == 200
    assert "direction-changing characters are not allowed" in page.text
    assert rows(SmsSender) == (0,)


def test_the_schedule_form_refuses_hostile_names_and_descriptions(client, admin):
    timepoint = {
        "timepoints-0-label": "baseline",
        "timepoints-0-day": "0",
        "timepoints-0-window_days": "7",
        "timepoints-0-instruments": ["ccis"],
    }
    for fields in (
        {"name": "Seton\u202e", "description": ""},
        {"name": "Seton", "description": "Fine\u2066 until here"},
        {"name": "Seton", "description": "d" * 301},
        {"name": "Seton", "description": "fine", "timepoints-0-label": "base\x00line"},
    ):
        page = post(client, "/clinic/follow-up/schedules/new", {**timepoint, **fields})
        assert page.status_code == 200
        assert "error-text" in page.text
        assert rows(Schedule) == (0,)


def test_the_enrolment_form_refuses_a_hostile_reference(client, admin, site):
    page = post(
        client,
        "/clinic/follow-up/enrol",
        {
            "site_id": site.id,
            "reference": "P-\u202e100",
            "phone": "+34612345678",
            "language": "es",
            "timezone": "Europe/Madrid",
            "schedule_id": 0,
        },
    )
    assert page.status_code == 200
    assert "U+202E" in page.text
    assert rows(Patient) == (0,)


def test_a_hostile_user_agent_is_stored_readable(app, site, make_user):
    user = make_user("clinician", [site])
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 \u202eevil\u202c"
    assert StaffActions(client).login(user.email, PASSWORD).status_code == 302
    stored = db.session.scalar(select(StaffSession.user_agent))
    assert stored == "Mozilla/5.0 \ufffdevil\ufffd"


def test_imported_wording_with_a_direction_override_is_refused(runner, tmp_path):
    from survey.instruments import get_instrument

    data = wording_file(get_instrument("ccis"), ["es"], reword=lambda t: f"\u202e{t}")
    result = runner.invoke(
        args=["instruments", "import", str(write_json(tmp_path / "w.json", data))]
    )
    refused_in_one_line(result)
    assert "direction-changing" in result.output and "U+202E" in result.output
    assert rows(ImportedWording) == (0,)
