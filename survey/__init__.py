"""Patient-reported outcome follow-up for anal fistula clinics."""

import importlib

from flask import Flask

from survey import (
    config,
    connection_health,
    errors,
    i18n,
    navigation,
    operations,
    security,
    settings,
)

# analytics and summaries: their session listeners keep the figures stored for speed (each
# invitation's analytics facts, each patient's next due and overdue) in every process that
# changes them, the dispatcher and the command line included, not only where they are read.
from survey.domain import analytics, languages, summaries  # noqa: F401
from survey.extensions import babel, csrf, db, migrate
from survey.settings import SurveyFlask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands."""
    app = SurveyFlask(
        __name__,
        instance_relative_config=True,
        template_folder=str(config.resource_dir("templates")),
    )
    config.load(app, test_config)
    settings.check(app)  # one typed value of the settings: a bad one stops the start here
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
    with app.app_context():
        connection_health.init_app(app, db.engine)
    migrate.init_app(app, db, directory=str(config.MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    languages.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)


# The view modules of the blueprint packages. A package defines its blueprint, `bp`, in its
# blueprint.py; each view module imports `bp` and puts its routes on it. Importing the view
# modules here, before the blueprints are registered, is what gives the blueprints their
# routes (tests/test_architecture.py checks that every module adding routes is listed).
VIEW_MODULES = (
    "survey.auth.views",
    "survey.auth.own_account",
    "survey.auth.set_password",
    "survey.clinic.views",
    "survey.clinic.analytics_views",
    "survey.clinic.export_views",
    "survey.clinic.worklist_views",
    "survey.admin.views",
    "survey.admin.sites",
    "survey.admin.staff_page",
    "survey.admin.triage",
    "survey.patient.views",
    "survey.patient.tablet",
    "survey.coordinate.patients",
    "survey.coordinate.schedules",
    "survey.coordinate.messages",
    "survey.coordinate.enrol_list",
    "survey.coordinate.answering",
)


def register_blueprints(app: Flask) -> None:
    from survey import auth, sms_webhooks
    from survey.admin.blueprint import bp as admin
    from survey.auth.blueprint import bp as auth_pages
    from survey.clinic.blueprint import bp as clinic
    from survey.coordinate.blueprint import bp as coordinate
    from survey.patient.blueprint import bp as patient

    for name in VIEW_MODULES:
        importlib.import_module(name)
    app.register_blueprint(auth_pages)
    app.register_blueprint(clinic)
    app.register_blueprint(admin)
    app.register_blueprint(patient)
    app.register_blueprint(coordinate)
    app.register_blueprint(sms_webhooks.make_blueprint(app))
    auth.init_app(app)


def register_security(app: Flask) -> None:
    """Headers on every response and rate limits on the views that need them (after the
    blueprints, whose views the limits wrap)."""
    security.init_app(app)


def register_commands(app: Flask) -> None:
    from survey import cli

    cli.init_app(app)
