"""`demo`: build the database, seed demo data, print how to sign in, then serve."""

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from survey.config import DEFAULTS
from survey.demo import seed
from survey.extensions import db
from survey.outreach.background import DEMO_INTERVAL, BackgroundDispatcher, refusal
from survey.outreach.policy import SendingRules
from survey.settings import settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Seed and print, but do not start the server.")
@click.option(
    "--no-dispatcher",
    is_flag=True,
    help="Do not send due texts in the background (run `outreach dispatch` yourself).",
)
@with_appcontext
def demo(host, port, no_serve, no_dispatcher):
    """Create or upgrade the database, seed demo data, and serve the app.

    While it serves, a dispatcher sends due texts every few seconds in the background with the
    console backend (development only), so they appear in the SMS outbox page."""
    app = current_app._get_current_object()
    if settings(app).public_url == DEFAULTS["PUBLIC_URL"]:
        listening_everywhere = host in ("0.0.0.0", "::", "")  # noqa: S104 (only compared)
        shown_host = "127.0.0.1" if listening_everywhere else host
        app.config["PUBLIC_URL"] = f"http://{shown_host}:{port}"
    flask_migrate.upgrade()
    public_url = settings(app).public_url
    logins, link = seed(db.session, public_url, SendingRules.from_config(app.config))
    click.echo(f"\nDemo site ready at {public_url}/login\n")
    click.echo("Staff sign-in (passwords are new each time the demo starts):")
    for login in logins:
        click.echo(f"  {login.role:<12} {login.email:<28} {login.password}")
    click.echo("\nA patient's private link (open it on a phone-sized window):")
    click.echo(f"  {link}\n")
    if no_serve:
        return
    dispatcher = None if no_dispatcher else _start_dispatcher(app)
    try:
        run_simple(host, port, app, threaded=True)
    finally:
        if dispatcher is not None:
            dispatcher.stop()


def _start_dispatcher(app) -> BackgroundDispatcher | None:
    """The demo's background dispatcher, or None (and why) where it must not run."""
    if reason := refusal(app.config):
        click.echo(
            f"Texts are not sent in the background ({reason}): "
            "run `flask --app wsgi outreach dispatch --loop` to send them.\n"
        )
        return None
    dispatcher = BackgroundDispatcher(app).start()
    click.echo(
        f"Due texts are sent every {DEMO_INTERVAL:g} s in the background (console backend: "
        f"nothing leaves this machine); read them at {settings(app).public_url}/dev/outbox\n"
    )
    return dispatcher
