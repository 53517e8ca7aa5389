"""Finding what a client can send: every route of the url_map with its ids filled in, the
forms each page holds (as a browser would submit them), and the query parameters the code
and the pages use. New routes, fields and parameters are found without editing the tests."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

from flask import Flask
from werkzeug.routing import Rule

from survey import config

ANY_CONVERTER = re.compile(r"<any\(([^)]*)\):(\w+)>")
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass
class Form:
    """A form as a browser would submit it: where to, and each field's submitted value."""

    page: str
    method: str
    targets: list[str]
    fields: list[tuple[str, str]] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)  # select/radio/button values

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self.fields} | set(self.choices))

    def submission(self, replace: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """The fields as the page would send them, with some values replaced (or added)."""
        replace = dict(replace or {})
        sent, seen = [], set()
        for name, value in self.fields:
            if name in replace:
                if name not in seen:
                    sent.append((name, replace[name]))
                seen.add(name)
            else:
                sent.append((name, value))
        for name, values in self.choices.items():
            if name in replace and name not in seen:
                sent.append((name, replace[name]))
                seen.add(name)
            elif name not in seen and values:
                sent.append((name, values[0]))
        sent += [(name, value) for name, value in replace.items() if name not in seen]
        return [(name, value) for name, value in sent if name]


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.current: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page, a["href"]))
        if tag == "form":
            action = urljoin(self.page, a.get("action") or self.page)
            self.current = Form(self.page, (a.get("method") or "get").lower(), [action])
            self.forms.append(self.current)
            return
        form = self.current
        if form is None:
            return
        name = a.get("name")
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                if name:
                    values = form.choices.setdefault(name, [])
                    value = a.get("value", "on")
                    if "checked" in a:
                        values.insert(0, value)
                    else:
                        values.append(value)
            elif kind in ("submit", "button", "image", "reset", "file"):
                if kind == "submit" and a.get("formaction"):
                    form.targets.append(urljoin(self.page, a["formaction"]))
            elif name:
                form.fields.append((name, a.get("value", "")))
        elif tag == "button":
            if a.get("formaction"):
                form.targets.append(urljoin(self.page, a["formaction"]))
            if name and (a.get("type") or "submit") == "submit":
                form.choices.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name:
            self.select = name
            form.choices.setdefault(name, [])
        elif tag == "option" and self.select:
            values = form.choices[self.select]
            value = a.get("value", "")
            if "selected" in a:
                values.insert(0, value)
            else:
                values.append(value)
        elif tag == "textarea" and name:
            self.textarea = name
            form.fields.append((name, ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.current is not None:
            name, value = self.current.fields[-1]
            self.current.fields[-1] = (name, value + data)


def forms_and_links(page: str, html: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser(page)
    parser.feed(html)
    for form in parser.forms:
        # A form with buttons that each post elsewhere is sent only to those addresses.
        if len(form.targets) > 1:
            form.targets = form.targets[1:]
    return parser.forms, parser.links


def paths_for(rule: Rule, ids: dict[str, int]) -> list[str]:
    """The rule's path with ids filled in, once per choice of each any(...) part; [] when an
    argument has no known value (reported by the caller)."""
    paths = [rule.rule]
    for choices, name in ANY_CONVERTER.findall(rule.rule):
        values = [choice.strip().strip("'\"") for choice in choices.split(",")]
        pattern = next(part for part in ARGUMENT.finditer(rule.rule) if part.group(2) == name)
        paths = [path.replace(pattern.group(0), value) for path in paths for value in values]
    for part in ARGUMENT.finditer(rule.rule):
        name = part.group(2)
        if part.group(0) not in paths[0]:
            continue
        if name not in ids:
            return []
        paths = [path.replace(part.group(0), str(ids[name])) for path in paths]
    return paths


def query_names_in_code() -> set[str]:
    """Query parameter names the package reads: request.args.get("x"), args.get("x"). (Names
    read in a loop are found on the pages' GET forms instead.)"""
    names = set()
    pattern = re.compile(r"""\bargs\.get\(\s*["']([\w-]+)["']|\bargs\[\s*["']([\w-]+)["']\]""")
    for path in Path(config.PACKAGE_DIR).rglob("*.py"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def query_names_in(links: list[str], forms: list[Form]) -> set[str]:
    names = {name for link in links for name, _ in parse_qsl(urlsplit(link).query)}
    names |= {name for form in forms if form.method == "get" for name in form.names}
    return names


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get_rules(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.endpoint.endswith("static")
    ]
