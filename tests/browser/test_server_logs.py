"""The development server's access log never holds a private link's token."""

import logging
import time
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_opening_a_link_through_the_server_logs_the_request_without_its_token(
    live_server, enrolled, invite, caplog, monkeypatch
):
    # Alembic's logging set-up (run by the schema fixture) switches existing loggers off.
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", False)
    caplog.set_level(logging.INFO, logger="werkzeug")
    link = invite(enrolled)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(live_server + link.path + "?lang=tr")
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 303
    deadline = time.monotonic() + 5
    while "GET /s/" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)  # the server logs from its own thread, after responding
    assert "GET /s/" in caplog.text
    assert link.token not in caplog.text
