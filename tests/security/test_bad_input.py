"""Hostile input everywhere: every form field, query parameter and path argument of every
route (found from the url_map and the pages themselves, signed in as each role and as a
patient) gets the Big List of Naughty Strings, control characters, bidirectional overrides,
emoji, SQL and template syntax, 1 MB values and invalid UTF-8. No 500, nothing unescaped
in a page, and nothing stored that no page could have accepted."""

import inspect
import itertools
import json
import re
import unicodedata
import warnings
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from sqlalchemy import JSON, String, Text, select
from werkzeug.datastructures import MultiDict

from survey.extensions import db
from survey.models import Schedule
from tests.conftest import PASSWORD, StaffActions, make_app
from tests.fixtures.patients import hostile_strings
from tests.fixtures.security import ROLES, follow
from tests.security import crawl

MEGABYTE = "x" * 1_000_000
TEMPLATE_PROBE = "{{7*191}}{% print(7*191) %}${7*191}#{7*191}<%= 7*191 %>"
CURATED = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\r\nSet-Cookie: x=1",
    "\u202eevil\u202c",
    "\u2066isolate\u2069",
    "\u200b\ufeff",
    "👩🏽‍⚕️🧪🇪🇸",
    "𝕿𝖊𝖘𝖙",
    "ﷺ" * 50,
    "' OR '1'='1",
    "'; DROP TABLE patients; --",
    '" OR 1=1 --',
    "1; SELECT pg_sleep(10)",
    "%' AND 1=0 UNION SELECT email, password_hash FROM users --",
    TEMPLATE_PROBE,
    "%s%s%s%n%x",
    "{0.__class__.__mro__}",
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "../../../../etc/passwd",
    "%00%0d%0a",
    "-1",
    "0",
    "99999999999999999999",
    "1e309",
    "NaN",
    "٣",
    "2026-02-30",
    "9999-12-31",
    MEGABYTE,
]
REFUSED_BY_DATABASES = {"\x00", "a\x00b", "99999999999999999999", "1e309", "9999-12-31", MEGABYTE}
# Raw bytes a browser never sends but a client can: invalid UTF-8, overlong forms, lone halves.
INVALID_UTF8 = [b"%FF%FE", b"%C0%AF", b"%ED%A0%80", b"%F4%90%80%80", b"\xff\xfe"]


class _Elements(HTMLParser):
    """What a browser would build from a page: elements that run code, or came from input."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if any(name.startswith("on") for name in names):
            self.found.append(f"<{tag}> with an event handler")
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag in ("img", "svg", "iframe", "object", "embed") and dict(attrs).get("src") == "x":
            self.found.append(f"<{tag} src=x>")
        href = dict(attrs).get("href") or ""
        if href.strip().lower().startswith("javascript:"):
            self.found.append("javascript: link")


SUSPECT = re.compile(r"<script(?![^>]*\ssrc=)|\son[a-z]+\s*=|src=.?x\b|javascript:", re.I)


def injected(html: str) -> list[str]:
    """Elements no template writes; any of them means input reached the page as markup.
    (A quick look first: the parser runs only on pages where something looks suspect.)"""
    if not SUSPECT.search(html):
        return []
    parser = _Elements()
    parser.feed(html)
    return parser.found


# Characters no stored text should hold: C0/C1 controls (tab and newlines aside), bidi
# overrides and isolates, lone surrogates, and U+0000.
ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def bad_character(text: str) -> str | None:
    for ch in text:
        category = unicodedata.category(ch)
        if ch in ALLOWED_CONTROLS:
            continue
        if category in ("Cc", "Cs") or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069":
            return repr(ch)
    return None


@pytest.fixture
def sweep_app(schema, app):
    """The app under attack: rate limits off (they are tested on their own), so that every
    hostile request reaches the code that parses it. Passwords are hashed at the tests' cheap
    setting and SQLite skips fsync, as for every test (tests/conftest.py)."""
    # PROPAGATE_EXCEPTIONS off: an error becomes the 500 page a real client would get.
    attacked = make_app(schema, RATELIMIT_ENABLED=False, PROPAGATE_EXCEPTIONS=False)
    return attacked


@pytest.fixture
def world(site, other_site, make_user, invite, enrolled):
    """Records for every kind of id a route takes, and a patient's open invitation."""
    ids = follow(site, "SWEEP-1", "+34612340001")
    follow(other_site, "OTHER-1", "+905321230001")
    link = invite(enrolled)
    schedule_id = db.session.scalar(select(Schedule.id))
    return {**ids, "schedule_id": schedule_id, "token": link.token, "kind": "long"}, link


class Sweep:
    """Sends hostile requests through one client and checks every answer; what goes wrong is
    collected (endpoint and what), so one run reports every finding."""

    def __init__(self, client, who: str, app) -> None:
        self.client, self.who = client, who
        self.adapter = app.url_map.bind("localhost")
        self.sent = 0
        self.findings: dict[tuple[str, str, str], str] = {}

    def endpoint(self, method: str, path: str) -> str:
        try:
            return self.adapter.match(path.split("?")[0], method)[0]
        except Exception:  # noqa: BLE001 (a 404 or 405 path has no endpoint)
            return path.split("?")[0]

    def found(self, method: str, path: str, what: str, value) -> None:
        key = (method, self.endpoint(method, path), what)
        self.findings.setdefault(key, f"{self.who}: {path[:100]} <- {str(value)[:60]!r}")

    def check(self, send, method: str, path: str, value: str | bytes) -> None:
        self.sent += 1
        try:
            response = send()
            # Streamed bodies fail only when read; SPSS and Stata files are binary.
            body = response.get_data().decode("utf-8", "replace")
        except Exception as error:  # noqa: BLE001 (each failure is a finding)
            self.found(method, path, f"exception {type(error).__name__}", value)
            return
        if response.status_code >= 500:
            self.found(method, path, f"status {response.status_code}", value)
        if "html" not in response.headers.get("Content-Type", ""):
            return
        if "1337" in body and "1337" not in str(value):
            self.found(method, path, "template evaluated", value)
        if len(str(value)) > 10_000:
            return  # a long run of one letter: only the status tells anything
        if (
            isinstance(value, str)
            and len(value) >= 6
            and any(c in value for c in "<>\"'")
            and value in body
        ):
            self.found(method, path, "unescaped", value)
        for element in injected(body):
            self.found(method, path, f"markup injected: {element}", value)

    def post_form(self, form: crawl.Form, target: str, replace: dict[str, str]) -> None:
        path = crawl.local_path(target)
        data = form.submission(replace)
        value = next(iter(replace.values()), "")
        self.check(lambda: self.client.post(path, data=MultiDict(data)), "POST", path, value)

    def post_raw(self, form: crawl.Form, target: str, name: str, raw: bytes) -> None:
        path = crawl.local_path(target)
        encoded = "&".join(
            f"{quote(n)}={quote(v)}" for n, v in form.submission() if n != name
        ).encode()
        body = encoded + b"&" + quote(name).encode() + b"=" + raw
        form_type = "application/x-www-form-urlencoded"
        self.check(
            lambda: self.client.post(path, data=body, content_type=form_type),
            "POST",
            path,
            raw.decode("latin-1"),
        )

    def get_query(self, path: str, name: str, value: str | bytes) -> None:
        self.get_queries(path, [name], value)

    def get_queries(self, path: str, names: list[str], value: str | bytes) -> None:
        """GET the page with each of `names` set to `value` (bytes are sent as they are)."""
        if isinstance(value, bytes):
            raw = value.decode("latin-1")
            query = "&".join(f"{quote(name)}={raw}" for name in names)
        else:
            query = "&".join(f"{quote(name)}={quote(value, safe='')}" for name in names)
        self.check(lambda: self.client.get(path, query_string=query), "GET", path, value)


def reads_query(app, endpoint: str) -> bool:
    """Whether the view (or a hook of its blueprint) reads the query string, from its source."""
    view = inspect.unwrap(app.view_functions[endpoint])
    blueprint = endpoint.rpartition(".")[0] or None
    hooks = app.before_request_funcs.get(blueprint, []) if blueprint else []
    sources = [inspect.getsource(function) for function in [view, *hooks]]
    return any("args" in source for source in sources)


def harvest(client, app, ids) -> tuple[list[str], list[crawl.Form], set[str]]:
    """Every GET page this client can open, the forms on them, and the query names in use."""
    pages, forms, links = [], [], []
    for rule in crawl.get_rules(app):
        if rule.endpoint == "patient.open_link":
            continue  # would rebind this browser's session; swept separately
        for path in crawl.paths_for(rule, ids):
            response = client.get(path)
            assert response.status_code < 500, path
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            pages.append(path)
            page_forms, page_links = crawl.forms_and_links(
                "http://localhost" + path, response.get_data(as_text=True)
            )
            forms += page_forms
            links += page_links
    names = crawl.query_names_in(links, forms) | crawl.query_names_in_code()
    return pages, unique(forms, app), names


# Forms that end the sweeping session: sent once, last, by their own tests elsewhere.
SESSION_ENDING = ("/logout", "/account/sessions/end-others")


def unique(forms: list[crawl.Form], app) -> list[crawl.Form]:
    """One form per target endpoint and field set (the same form for another record, or a
    repeated group of fields, adds nothing); never a form that ends the session."""
    adapter = app.url_map.bind("localhost")
    seen, kept = set(), []
    for form in forms:
        if form.method != "post":
            continue
        targets = [t for t in form.targets if not crawl.local_path(t).endswith(SESSION_ENDING)]
        endpoints = tuple(sorted(adapter.match(crawl.local_path(t), "POST")[0] for t in targets))
        key = (endpoints, tuple(sorted({REPEATED.sub("-N-", name) for name in form.names})))
        if targets and key not in seen and [n for n in form.names if n != "csrf_token"]:
            seen.add(key)
            form.targets = targets
            kept.append(form)
    return kept


REPEATED = re.compile(r"-\d+-")


def fields_of(form: crawl.Form) -> list[str]:
    """The form's fields, a repeated group (timepoints-0-x, timepoints-1-x...) once."""
    seen, fields = set(), []
    for name in form.names:
        if name != "csrf_token" and REPEATED.sub("-N-", name) not in seen:
            seen.add(REPEATED.sub("-N-", name))
            fields.append(name)
    return fields


# A few values sent to each query parameter alone; the whole corpus goes to all at once.
SHARP = ["\x00", "99999999999999999999", "9999-12-31", b"%FF%FE"]


def for_this_database(values: list) -> list:
    """All of `values` on SQLite; on PostgreSQL only those the database itself may refuse
    (NUL, numbers and dates beyond its types, over-long text). The parsing and escaping of
    the rest is the same on any database: sending it again on PostgreSQL took the sweeps
    two thirds of that suite's longest minutes and found nothing the SQLite run does not."""
    if db.engine.dialect.name != "postgresql":
        return list(values)
    return [value for value in values if value in REFUSED_BY_DATABASES]


def sweep(attack: Sweep, app, ids, corpus: list[str], everything_at_once: list[str]):
    """Each value of `corpus` in each field alone and in every query parameter together;
    each value of `everything_at_once` in every field of a form (and every parameter of a
    page) together; a few sharp values in each parameter alone. Returns (forms, pages).

    On PostgreSQL only what the database itself may refuse is sent (`for_this_database`):
    how the rest is parsed and escaped does not depend on the database, and the SQLite run
    sends it all."""
    invalid_utf8 = for_this_database(INVALID_UTF8)
    sharp = for_this_database(SHARP)
    sharp_text = [value for value in sharp if isinstance(value, str)]
    corpus, everything_at_once = for_this_database(corpus), for_this_database(everything_at_once)
    pages, forms, names = harvest(attack.client, app, ids)
    assert pages, f"{attack.who} reached no page"
    for form in forms:
        fields = fields_of(form)
        # A form with several buttons (the export page's one per format) posts the same
        # fields to each: the values take turns among its targets, so that every field gets
        # every value and every target a share of them, not each value once per target.
        targets = itertools.cycle(form.targets)
        for name in fields:
            for value in corpus:
                attack.post_form(form, next(targets), {name: value})
            for raw in invalid_utf8:
                attack.post_raw(form, next(targets), name, raw)
        for value in everything_at_once:
            attack.post_form(form, next(targets), dict.fromkeys(fields, value))
    names = sorted(names)
    adapter = app.url_map.bind("localhost")
    for path in pages:
        reader = reads_query(app, adapter.match(path, "GET")[0])
        # A page whose view never reads the query string gets the sharp values only (what
        # reads it there is the app's own hooks, the same on every page).
        values = [v for v in corpus if v is not MEGABYTE] if reader else sharp_text
        # A 1 MB query string is no URL; a long one is parsing, like invalid UTF-8.
        values = values + invalid_utf8 + for_this_database(["x" * 16_000])
        for value in values + (everything_at_once if reader else []):
            attack.get_queries(path, names, value)
        for name in names if reader else []:
            for value in sharp:
                attack.get_query(path, name, value)
    return len(forms), len(pages)


# Findings in other packages, reported to their owners: (method, endpoint, what) -> where.
# A finding not listed here fails the sweep; listed ones still found are shown as warnings.
KNOWN_FINDINGS: dict = {}


def assert_no_new_findings(findings: dict) -> None:
    for key, example in sorted(findings.items()):
        if key in KNOWN_FINDINGS:
            warnings.warn(f"known finding {key}: {KNOWN_FINDINGS[key]} ({example})", stacklevel=2)
    new = {key: example for key, example in findings.items() if key not in KNOWN_FINDINGS}
    assert not new, "\n".join(f"{key}: {example}" for key, example in sorted(new.items()))


# Stored text found holding such characters, in other packages, reported to their owners.
KNOWN_STORED: dict = {}


def stored_text_problems() -> list[str]:
    """Every stored text value that holds a character no page accepts, or is longer than its
    column (SQLite does not enforce lengths; PostgreSQL would have refused the write)."""
    problems = []
    db.session.expire_all()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                where = f"{table.name}.{column.name}"
                if isinstance(value, dict):
                    parts = {
                        f"{where}[{k}]": json.dumps(v, ensure_ascii=False) for k, v in value.items()
                    }
                elif isinstance(column.type, JSON):
                    parts = {where: json.dumps(value, ensure_ascii=False)}
                else:
                    parts = {where: value}
                for label, text in parts.items():
                    if isinstance(text, str) and (bad := bad_character(text)):
                        problems.append(f"{label} holds {bad}: {text[:80]!r}")
                length = getattr(column.type, "length", None)
                if length and isinstance(value, str) and len(value) > length:
                    problems.append(f"{where} longer than {length}")
    for problem in problems:
        label = problem.split(" ")[0]
        if label in KNOWN_STORED:
            warnings.warn(f"known finding: {problem} ({KNOWN_STORED[label]})", stacklevel=2)
    return [p for p in problems if p.split(" ")[0] not in KNOWN_STORED]


def signed_in(app, user):
    client = app.test_client()
    assert StaffActions(client).login(user.email, PASSWORD).status_code == 302
    return client


# The curated list in two halves too: the admin's sweep alone was the suite's longest test.
@pytest.mark.parametrize("half", [0, 1])
@pytest.mark.parametrize("role", ROLES)
def test_every_staff_form_and_parameter_survives_hostile_input(
    sweep_app, world, site, make_user, role, half
):
    """Each role, on every page it reaches: the curated list in each field alone."""
    ids, _link = world
    attack = Sweep(signed_in(sweep_app, make_user(role, [site])), role, sweep_app)
    # The admin reaches every staff form and page and gets the whole curated list; the other
    # roles, whose forms are the admin's, get the sharp values on everything they reach.
    values = for_this_database(CURATED if role == "admin" else [*SHARP[:-1], MEGABYTE])
    forms, pages = sweep(attack, sweep_app, ids, values[half::2], [])
    assert forms >= 1 and pages >= 3, (role, forms, pages)
    assert_no_new_findings(attack.findings)
    assert stored_text_problems() == []


# The corpus in two halves, so that two workers share the longest sweep. What it finds
# (parsing, escaping) is the same on any database, so CI runs it on SQLite only; the values
# PostgreSQL itself refuses are in the curated list above.
@pytest.mark.any_database
@pytest.mark.parametrize("half", [0, 1])
def test_every_staff_form_and_page_survives_the_naughty_list_in_every_field_at_once(
    sweep_app, world, site, make_user, half
):
    """The admin reaches every staff page: each naughty string in every field of a form (and
    every parameter of a page) at once."""
    ids, _link = world
    attack = Sweep(signed_in(sweep_app, make_user("admin", [site])), "admin", sweep_app)
    blns = for_this_database(hostile_strings()[half::2])  # all of it, but on PostgreSQL
    forms, pages = sweep(attack, sweep_app, ids, [], blns)
    assert forms >= 1 and pages >= 3, (forms, pages)
    assert attack.sent >= len(blns) * forms
    assert_no_new_findings(attack.findings)
    assert stored_text_problems() == []


def test_every_public_page_and_the_patient_pages_survive_hostile_input(sweep_app, world):
    ids, link = world
    blns = hostile_strings()  # on PostgreSQL, sweep() sends only what it may refuse
    visitor = Sweep(sweep_app.test_client(), "visitor", sweep_app)
    sweep(visitor, sweep_app, ids, CURATED, blns)
    patient = Sweep(sweep_app.test_client(), "patient", sweep_app)
    assert patient.client.get(f"/s/{link.token}").status_code == 303
    forms, _pages = sweep(patient, sweep_app, ids, CURATED, blns)
    assert forms >= 1
    assert_no_new_findings(visitor.findings | patient.findings)
    assert stored_text_problems() == []


def test_hostile_path_arguments_get_a_clear_answer(sweep_app, world, site, make_user):
    ids, _link = world
    attack = Sweep(signed_in(sweep_app, make_user("admin", [site])), "admin", sweep_app)
    values = for_this_database([v for v in hostile_strings() + CURATED[:-1] if v] + ["A" * 5000])
    arguments = 0
    for rule in sweep_app.url_map.iter_rules():
        textual = [
            name
            for name, converter in rule._converters.items()
            if type(converter).__name__ in ("UnicodeConverter", "PathConverter")
        ]
        for name in textual:
            arguments += 1
            for value in values:
                for path in crawl.paths_for(rule, {**ids, name: quote(value, safe="")}):
                    for method in sorted(rule.methods & {"GET", "POST"}):
                        send = getattr(attack.client, method.lower())
                        attack.check(
                            lambda send=send, path=path: send(path, follow_redirects=True),
                            method,
                            path,
                            value,
                        )
    assert arguments >= 2 and values, (arguments, values)
    assert attack.sent >= arguments * len(values), (attack.sent, arguments, len(values))
    assert_no_new_findings(attack.findings)
    assert stored_text_problems() == []


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(client):
    response = client.post("/login", data={"email": "a@b.example", "password": "x" * 1_100_000})
    assert response.status_code == 413
    assert "Too much data" in response.text


# An app of its own: the test adds a route, which an app that has served requests refuses.
@pytest.mark.app_config()
def test_a_value_the_database_refuses_is_a_bad_request_not_a_server_error(app):
    """The last line behind the views' own checks (survey/errors.py)."""
    from sqlalchemy.exc import DataError

    @app.get("/refused-by-the-database")
    def refused():
        raise DataError("INSERT ...", {}, ValueError("A string literal cannot contain NUL"))

    response = app.test_client().get("/refused-by-the-database")
    assert response.status_code == 400
    assert "NUL" not in response.text
