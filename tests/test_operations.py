"""Operating the service: health checks, proxies, and logs without private links."""

import logging

from survey.gunicorn_logging import RedactingLogger
from survey.operations import RedactingFilter, redact
from tests.conftest import make_app


def test_the_health_check_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_the_health_check_reports_an_unreachable_database(tmp_path):
    app = make_app(f"sqlite:///{tmp_path}/missing-dir/none.sqlite")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_behind_a_proxy_the_forwarded_scheme_and_address_are_trusted(schema):
    app = make_app(schema, PROXY_COUNT=1)

    @app.get("/_where")
    def where():
        from flask import request

        return f"{request.scheme} {request.remote_addr}"

    response = app.test_client().get(
        "/_where", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert response.text == "https 203.0.113.9"


def test_private_links_are_redacted_from_log_lines():
    line = '127.0.0.1 - - "GET /s/F-o12a2hcsjFnH-oAiM2gA HTTP/1.1" 303 -'
    assert "F-o12a2hcsjFnH-oAiM2gA" not in redact(line)
    assert redact("GET /survey/2 HTTP/1.1") == "GET /survey/2 HTTP/1.1"


def test_set_password_links_are_redacted_from_log_lines():
    token = "Qm9vdHN0cmFwLXRva2VuLWZvci10ZXN0aW5nLW9ubHk"
    line = f'127.0.0.1 - - "POST /account/set-password/{token} HTTP/1.1" 303 -'
    assert token not in redact(line)
    assert "/account/set-password/[redacted]" in redact(line)


def test_the_werkzeug_request_log_never_shows_a_token():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - "%s" %s -',
        ("127.0.0.1", "GET /s/F-o12a2hcsjFnH-oAiM2gA HTTP/1.1", "303"),
        None,
    )
    RedactingFilter().filter(record)
    assert "F-o12a2hcsjFnH-oAiM2gA" not in record.getMessage()


def test_gunicorns_access_log_never_shows_a_token():
    class Config:
        def __getattr__(self, name):
            return None

    logger = RedactingLogger.__new__(RedactingLogger)
    logger.cfg = Config()

    class Response:
        status = "303 See Other"
        sent = 0
        headers = []

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/s/F-o12a2hcsjFnH-oAiM2gA",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/s/F-o12a2hcsjFnH-oAiM2gA",
    }
    from datetime import timedelta

    atoms = logger.atoms(Response(), {}, environ, timedelta(milliseconds=3))
    assert "F-o12a2hcsjFnH" not in atoms["r"] + atoms["U"]
