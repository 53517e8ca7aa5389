"""Security headers on every response, and session cookies that scripts and other sites
cannot use."""

import re
from pathlib import Path

import pytest

from survey import config
from survey.security.headers import CONTENT_SECURITY_POLICY
from tests.conftest import make_app
from tests.fixtures.patients import QOLAF_51

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def policy(response) -> dict[str, str]:
    """The Content-Security-Policy header as directive -> value."""
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def assert_protected(response, cacheable: bool = False) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, (response.request.path, name)
    csp = policy(response)
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    if not cacheable:
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere():
    assert "default-src" in CONTENT_SECURITY_POLICY
    for directive, value in CONTENT_SECURITY_POLICY.items():
        assert "unsafe" not in value and "*" not in value and "http" not in value, directive


def test_every_page_a_visitor_can_reach_carries_the_headers(client):
    for path in ("/login", "/healthz", "/s/" + "A" * 22, "/survey", "/clinic/", "/nowhere"):
        assert_protected(client.get(path))
    assert_protected(client.post("/login", data={}))  # CSRF failure page
    assert_protected(client.delete("/login"))  # 405


def test_every_staff_page_carries_the_headers(sign_in, site, app):
    staff = sign_in("admin", [site])
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.endpoint.endswith("static"):
            assert_protected(staff.client.get(rule.rule))
            checked += 1
    assert checked >= 5


def test_patient_pages_carry_the_headers_through_to_the_thank_you_page(patient, enrolled, invite):
    link = invite(enrolled)
    assert_protected(patient.opens(link))
    assert_protected(patient.client.get("/survey"))
    assert_protected(patient.client.get("/survey/1"))
    assert_protected(patient.answers(1, QOLAF_51, action="save"))
    assert_protected(patient.answers(1, {"q1": "99"}))  # refused post
    assert_protected(patient.client.get("/survey/done"))


def test_static_files_may_be_cached_but_are_not_sniffed(client):
    response = client.get("/static/autosave.js")
    assert response.status_code == 200
    assert_protected(response, cacheable=True)
    assert response.headers["Cache-Control"] != "no-store"


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://survey.example.org")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_behind_a_proxy_the_forwarded_scheme_decides_hsts(schema):
    app = make_app(schema, PROXY_COUNT=1)
    response = app.test_client().get(
        "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert "Strict-Transport-Security" in response.headers


def test_the_session_cookie_is_secure_httponly_and_samesite_over_https(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_plain_http_demo_keeps_a_working_cookie(schema):
    app = make_app(schema, PUBLIC_URL="http://127.0.0.1:5000")
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# Inline code in templates: CSP blocks it, so the page would silently lose it.
INLINE = re.compile(r"""[\s(,]style\s*=|\son[a-z]+\s*=|<script(?![^>]*\ssrc=)|<style""", re.I)
TEMPLATES = config.resource_dir("templates")


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_no_template_holds_inline_script_style_or_event_handlers(name):
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    assert not INLINE.search(text), INLINE.search(text).group(0)


def test_no_python_module_writes_inline_style_or_script_into_html():
    package = Path(config.PACKAGE_DIR)
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"""['"][^'"]*(\sstyle=|<script|\sonclick=)""", path.read_text("utf-8"))
    ]
    assert offenders == []
