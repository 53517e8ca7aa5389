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
