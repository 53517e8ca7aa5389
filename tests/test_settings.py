"""The typed settings (survey/settings.py): one field for every setting, built once at start,
and a bad value stops the start rather than breaking a page later."""

import ast
import dataclasses
from pathlib import Path

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


PACKAGE = Path(__file__).resolve().parents[1] / "survey"
#: Settings read from `app.config` rather than `Settings`, and why (docs/architecture.md).
READ_FROM_APP_CONFIG = {
    # Worked out at start from the catalogs (domain/languages.py), which replace the setting;
    # read through languages.interface_languages() only.
    "LANGUAGES": {"domain/languages.py"},
    # Flask-Limiter reads these from app.config itself: the check of the storage's options
    # must agree with what the limiter does with the same values.
    "RATELIMIT_ENABLED": {"security/limits.py"},
    "RATELIMIT_STORAGE_URI": {"security/limits.py"},
    # Flask-SQLAlchemy builds the engine from the merged options in app.config: the check of
    # pre-ping reads what the engine was built with.
    "SQLALCHEMY_ENGINE_OPTIONS": {"connection_health.py"},
}


def config_reads(tree: ast.AST) -> list[str | None]:
    """The keys read from something's `.config` (`x.config[KEY]`, `x.config.get(KEY)`); None
    for a key that is not written out."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "config"
        ):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "config"
            and node.args
        ):
            key = node.args[0]
        else:
            continue
        found.append(key.value if isinstance(key, ast.Constant) else None)
    return found


def test_code_reads_each_setting_from_the_typed_settings():
    """A setting with a `Settings` field is read as `settings().name`, never from app.config
    (values Flask and its extensions own, such as PERMANENT_SESSION_LIFETIME, may be)."""
    ours = {field.name.upper() for field in dataclasses.fields(Settings)}
    misread = []
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        if name in ("config.py", "settings.py") or name.startswith("migrations/"):
            continue  # where app.config is filled and Settings built from it
        for key in config_reads(ast.parse(path.read_text(encoding="utf-8"))):
            if key is None or (key in ours and name not in READ_FROM_APP_CONFIG.get(key, ())):
                misread.append((name, key))
    assert misread == []


def test_the_check_of_settings_reads_finds_a_read():
    tree = ast.parse(
        'current_app.config["CLINIC_PAGE_SIZE"]\napp.config.get("PUBLIC_URL")\n'
        'current_app.config[name]\napp.config["PUBLIC_URL"] = 1'
    )
    assert config_reads(tree) == ["CLINIC_PAGE_SIZE", "PUBLIC_URL", None]
