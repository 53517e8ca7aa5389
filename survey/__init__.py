"""Patient-reported outcome follow-up for anal fistula clinics."""

from flask import Flask

from survey import config, errors, i18n, navigation, operations, security
from survey.domain import languages
from survey.extensions import babel, csrf, db, migrate


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(config.resource_dir("templates")),
    )
    config.load(app, test_config)
    operations.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_commands(app)
    errors.init_app(app)
    navigation.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    languages.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)


def register_blueprints(app: Flask) -> None:
    from survey import admin, auth, clinic, coordinate, patient, sms_webhooks

    app.register_blueprint(auth.bp)
    app.register_blueprint(clinic.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(patient.bp)
    app.register_blueprint(coordinate.bp)
    app.register_blueprint(sms_webhooks.make_blueprint(app))
    auth.init_app(app)


def register_security(app: Flask) -> None:
    """Headers on every response and rate limits on the views that need them (after the
    blueprints, whose views the limits wrap)."""
    security.init_app(app)


def register_commands(app: Flask) -> None:
    from survey import cli

    cli.init_app(app)
