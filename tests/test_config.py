"""Settings: what the service accepts at start-up, and what it refuses."""

import pytest
from flask import Flask

from survey import config, create_app
from survey.config import ConfigurationError


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SURVEY_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SURVEY_SECRET_KEY"):
        create_app({"DATABASE_URL": "postgresql://db.example/survey"})


def test_configuring_a_database_means_production(monkeypatch, tmp_path):
    monkeypatch.delenv("SURVEY_SECRET_KEY", raising=False)
    monkeypatch.setenv("SURVEY_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(ConfigurationError):
        create_app()


def test_the_embedded_demo_starts_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SURVEY_SECRET_KEY", raising=False)
    monkeypatch.delenv("SURVEY_DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["ENV"] == "development"
    assert len(app.config["SECRET_KEY"]) == 64


def test_the_development_key_is_private_and_survives_a_restart(tmp_path):
    instance = Flask("survey", instance_path=str(tmp_path))
    key = config.development_secret_key(instance)
    assert config.development_secret_key(instance) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_settings_come_from_survey_environment_variables(monkeypatch):
    monkeypatch.setenv("SURVEY_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("SURVEY_PUBLIC_URL", "https://followup.example.org/")
    monkeypatch.setenv("SURVEY_DATABASE_URL", "postgresql://user@db.example/survey")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["PUBLIC_URL"] == "https://followup.example.org"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://user@db.example/survey"
    assert app.config["ENV"] == "production"
    # Links are https, so the session cookie is only sent over https.
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_an_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("SURVEY_ENV", "staging")
    with pytest.raises(ConfigurationError, match="SURVEY_ENV"):
        create_app({"SECRET_KEY": "x"})


def test_a_secret_key_that_looks_like_a_number_is_kept_as_text(monkeypatch):
    monkeypatch.setenv("SURVEY_SECRET_KEY", "12345678901234567890e5")
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "12345678901234567890e5"


def test_production_hashes_passwords_with_argon2_cffis_recommended_parameters(monkeypatch):
    """The one test at production's argon2id cost: the rest of the suite uses the `test`
    profile (tests/conftest.py), whose hashes are cheap to make and so to guess."""
    import argon2

    from survey.passwords import check_password, hash_password, needs_rehash

    monkeypatch.delenv("SURVEY_PASSWORD_HASH_PROFILE", raising=False)
    app = create_app({"DATABASE_URL": "postgresql://db.example/survey", "SECRET_KEY": "k" * 32})
    assert app.config["PASSWORD_HASH_PROFILE"] == "default"
    with app.app_context():
        stored = hash_password("correct horse battery staple")
        parameters = argon2.extract_parameters(stored)
        assert (parameters.type, parameters.time_cost, parameters.memory_cost) == (
            argon2.Type.ID,
            3,
            65536,
        )
        assert parameters.parallelism == 4
        assert check_password(stored, "correct horse battery staple")
        assert not check_password(stored, "correct horse battery stapler")
        assert not needs_rehash(stored)
        # A hash made at the tests' cost is upgraded at the next sign-in.
        app.config["PASSWORD_HASH_PROFILE"] = "test"
        cheap = hash_password("correct horse battery staple")
        app.config["PASSWORD_HASH_PROFILE"] = "default"
        assert check_password(cheap, "correct horse battery staple") and needs_rehash(cheap)


def test_the_cheap_password_profile_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("SURVEY_PASSWORD_HASH_PROFILE", "test")
    with pytest.raises(ConfigurationError, match="SURVEY_PASSWORD_HASH_PROFILE"):
        create_app({"DATABASE_URL": "postgresql://db.example/survey", "SECRET_KEY": "k" * 32})
    monkeypatch.setenv("SURVEY_PASSWORD_HASH_PROFILE", "fast")
    with pytest.raises(ConfigurationError, match="SURVEY_PASSWORD_HASH_PROFILE"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "k" * 32})
