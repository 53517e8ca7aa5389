"""A dispatcher in a background thread of the development server, for the demo.

`flask --app wsgi demo` runs one, so that a newcomer who enrols a patient or presses *Send now*
sees the text arrive in the SMS outbox a few seconds later, sent by the same dispatcher code
(`dispatch_due`) with the same quiet hours and limits as a deployment's `outreach dispatch
--loop` service. It runs only in development with the console backend, which sends nothing:
a production configuration (or a real SMS provider) gets no background sender from a web
process, where several workers would each start one.
"""

import logging
import threading

from flask import Flask

from survey.config import ConfigurationError
from survey.extensions import db
from survey.outreach.backends import backend_from_config
from survey.outreach.dispatch import dispatch_due
from survey.outreach.dispatch_settings import DispatchSettings
from survey.settings import settings_of

logger = logging.getLogger("survey.outreach.background")
DEMO_INTERVAL = 2.0  # seconds between passes: a text shows up "at once" for a person watching


def refusal(config) -> str | None:
    """Why a background dispatcher may not run with these settings, or None if it may."""
    found = settings_of(config)
    if found.env != "development":
        return "SURVEY_ENV is not development"
    backend = found.sms_backend or "console"
    if backend != "console":
        return f"SURVEY_SMS_BACKEND is {backend[:20]}, not console"
    return None


class BackgroundDispatcher:
    """Dispatch passes every `interval` seconds in a daemon thread, until `stop()`."""

    def __init__(self, app: Flask, interval: float = DEMO_INTERVAL, limit: int = 100) -> None:
        if reason := refusal(app.config):
            raise ConfigurationError(f"No background dispatcher: {reason}.")
        self.app = app
        self.interval = interval
        self.limit = limit
        self.backend = backend_from_config(app.config, app.instance_path)
        self.settings = DispatchSettings.from_config(app.config)
        self.passes = 0  # completed passes, for whoever watches (tests, the demo's log)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-dispatcher", daemon=True)

    def start(self) -> "BackgroundDispatcher":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the pass in hand, then stop."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self.app.app_context():
                try:
                    report = dispatch_due(db.session, self.backend, self.settings, limit=self.limit)
                except Exception:
                    # A locked SQLite file or a bug: say so and try again next time.
                    db.session.rollback()
                    logger.exception("background dispatch pass failed")
                else:
                    if report.attempted or report.stalled:
                        logger.info("dispatch: %s", report)
                finally:
                    db.session.remove()
            self.passes += 1
            self._stopping.wait(self.interval)
