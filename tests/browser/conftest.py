"""A live server and a headless Chromium on a phone-sized screen, for end-to-end tests.

One server and one browser per test run; each test gets a fresh browser context (no cookies),
as if the patient picked up a new phone. Tests create their data through the `app` fixture,
on the same database the server reads."""

import os
import threading
import time

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from survey.extensions import db
from tests.conftest import make_app
from tests.patient.conftest import enrolled, invite  # noqa: F401  (shared fixtures)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def live_server(schema):
    """The app served over HTTP on a free local port; yields its base URL."""
    # Plain http: an https PUBLIC_URL would mark the session cookie Secure.
    app = make_app(schema, PUBLIC_URL="http://127.0.0.1")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.config["PUBLIC_URL"]
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, started once for the whole run."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_phone(browser, live_server, app):
    """Open a fresh phone browser: `new_phone(locale="es-ES", javascript=True)` -> Page."""
    contexts = []

    def make(locale: str = "en-GB", javascript: bool = True):
        context = browser.new_context(
            viewport=PHONE,
            locale=locale,
            java_script_enabled=javascript,
            base_url=live_server,
            has_touch=True,
            is_mobile=True,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_phone):
    """A phone browser with JavaScript on and English as the browser's language."""
    return new_phone()


def wait_for_rows(model, count: int, timeout: float = 5.0) -> int:
    """Poll until the server has stored `count` rows of `model` (it writes from its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        found = db.session.scalar(select(func.count()).select_from(model))
        if found >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
