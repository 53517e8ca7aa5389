"""The typed settings (survey/settings.py): one field for every setting, built once at start,
and a bad value stops the start rather than breaking a page later."""

import dataclasses

import pytest

from survey.config import DEFAULTS, ConfigurationError
from survey.settings import Settings, settings
from tests.conftest import make_app


def test_every_setting_has_a_field_and_every_field_a_setting():
    fields = {field.name for field in dataclasses.fields(Settings)}
    assert len(DEFAULTS) > 50
    assert {name.lower() for name in DEFAULTS} == fields - {"env"}


def test_the_app_reads_its_settings_as_one_typed_value(app):
    found = settings(app)
    assert found.public_url == "https://survey.example.org"
    assert found.clinic_page_size == DEFAULTS["CLINIC_PAGE_SIZE"]
    assert found.twilio_connect_timeout == float(DEFAULTS["TWILIO_CONNECT_TIMEOUT"])
    assert found.totp_required_roles == frozenset()
    assert settings(app) is found  # built once, not on every read
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.clinic_page_size = 3


def test_a_setting_changed_on_a_running_app_is_read_again(app):
    """Tests change settings on the shared app; the next read sees the change."""
    before = settings(app)
    app.config["CLINIC_PAGE_SIZE"] = 7
    app.config.update(TOTP_REQUIRED_ROLES="admin, clinician")
    after = settings(app)
    assert after is not before
    assert after.clinic_page_size == 7
    assert after.totp_required_roles == {"admin", "clinician"}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("SESSION_IDLE_MINUTES", 0),
        ("SMS_MAX_PER_DAY", -1),
        ("SMS_MAX_ATTEMPTS", "six"),
        ("SMS_DISPATCH_CONCURRENCY", 2.5),
        ("HSTS_SECONDS", True),
        ("TWILIO_READ_TIMEOUT", 0),
        ("TWILIO_CONNECT_TIMEOUT", "soon"),
        ("RATELIMIT_ENABLED", "maybe"),
        ("TWILIO_LOOKUP", "sometimes"),
        ("BENCHMARK_ROUTES", 2),
        ("SQLALCHEMY_ENGINE_OPTIONS", "pool_pre_ping"),
        ("FHIR_BASE_URL", "survey.invalid"),
    ],
)
def test_a_bad_value_stops_the_start(schema, setting, value):
    with pytest.raises(ConfigurationError, match=f"SURVEY_{setting}"):
        make_app(schema, **{setting: value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("on", True), ("1", True), (1, True), ("off", False), ("", False)],
)
def test_switches_take_the_words_the_readme_allows(schema, value, expected):
    assert settings(make_app(schema, TWILIO_LOOKUP=value)).twilio_lookup is expected


def test_text_settings_that_look_like_numbers_keep_their_text(schema, monkeypatch):
    """SURVEY_TWILIO_FROM=+15005550006 is read as JSON (a number) by Flask; it stays text."""
    monkeypatch.setenv("SURVEY_TWILIO_FROM", "+15005550006")
    assert settings(make_app(schema)).twilio_from == "+15005550006"
