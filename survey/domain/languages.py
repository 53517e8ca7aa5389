"""Which languages the service speaks, worked out from its files: the one list of languages.

A language is added without touching code (docs/translations.md):

- its **interface catalog**, `translations/<code>/LC_MESSAGES/messages.po` compiled to `.mo`
  (shipped, or in a directory named by `SURVEY_TRANSLATION_DIRECTORIES`), carries every page
  and every SMS text (message context "sms");
- its **instrument wording** is in the shipped definitions or imported with
  `flask --app wsgi instruments import FILE`, with its status.

Staff may use the interface in every language whose catalog is complete (and compiled). It is
offered to patients only when, in addition, every instrument has wording in it: a patient must
never meet a page or a question that falls back to another language. English is the source
language: the catalogs translate from it, so it is always complete.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from flask import Flask, current_app
from sqlalchemy.orm import Session

SOURCE_LANGUAGE = "en"
CATALOGS_KEY = "survey_catalogs"
# ISO 639 language, optionally an ISO 3166 region in Babel's spelling (pt_BR).
CODE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


class LanguageError(ValueError):
    """A language code that cannot be used; the message says why."""


def check_code(code: object) -> str:
    """`code` if it is a language code Babel knows (`ar`, `pt_BR`); LanguageError if not."""
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise LanguageError(
            f"{str(code)[:16]!r} is not a language code (two or three lower-case letters, "
            "optionally _ and a region: fr, pt_BR)"
        )
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        raise LanguageError(f"{code!r} is not a language Babel knows") from None
    return code


def html_lang(code: str) -> str:
    """The BCP 47 tag for a `lang` attribute: pt_BR -> pt-BR."""
    return code.replace("_", "-")


@dataclass(frozen=True)
class Catalog:
    """One interface language's catalog: how much of the interface it translates."""

    code: str
    translated: int
    total: int
    # Whether every catalog file has its compiled .mo (what the app actually reads).
    compiled: bool = True
    # The message ids with no (or only a fuzzy) translation, for the translator.
    missing: tuple[str, ...] = ()

    @property
    def percent(self) -> int:
        """Whole per cent translated, rounded down so that 99.9 % never shows as 100."""
        return 100 if self.total == 0 else self.translated * 100 // self.total

    @property
    def complete(self) -> bool:
        return self.compiled and self.translated == self.total


def translation_directories(app: Flask) -> list[Path]:
    """Where catalogs are read from: the shipped directory, then the clinic's own, in the
    order Flask-Babel merges them (a later directory's translation wins)."""
    return [Path(part) for part in app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";") if part]


def _message_id(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _key(message) -> tuple[str | None, str]:
    return (message.context, _message_id(message))


def _is_translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(strings)


def read_catalogs(directories: Iterable[Path]) -> dict[str, Catalog]:
    """Every catalog in `directories`, measured against the shipped template (messages.pot):
    a catalog that lacks a message of the template is missing it, not complete without it."""
    directories = [Path(directory) for directory in directories]
    template: set[tuple[str | None, str]] | None = None
    found: dict[str, dict] = {}
    for directory in directories:
        pot = directory / "messages.pot"
        if template is None and pot.is_file():
            template = {_key(m) for m in read_po(io.BytesIO(pot.read_bytes())) if m.id}
        for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
            code = po.parts[-3]
            try:
                check_code(code)
            except LanguageError:
                continue  # not a language (a stray folder); nothing can select it
            entry = found.setdefault(code, {"ids": set(), "done": set(), "compiled": True})
            catalog = read_po(io.BytesIO(po.read_bytes()))
            for message in catalog:
                if message.id:
                    entry["ids"].add(_key(message))
                    if _is_translated(message):
                        entry["done"].add(_key(message))
            if not po.with_suffix(".mo").is_file():
                entry["compiled"] = False
    catalogs = {}
    for code, entry in found.items():
        wanted = template if template is not None else entry["ids"]
        missing = sorted(wanted - entry["done"], key=lambda key: (key[0] or "", key[1]))
        catalogs[code] = Catalog(
            code=code,
            translated=len(wanted) - len(missing),
            total=len(wanted),
            compiled=entry["compiled"],
            missing=tuple(message_id for _, message_id in missing),
        )
    return catalogs


def init_app(app: Flask) -> None:
    """Read the catalogs once and derive `LANGUAGES`: the source language, then every
    language with a complete catalog. A `SURVEY_LANGUAGES` setting can only narrow that."""
    catalogs = read_catalogs(translation_directories(app))
    app.extensions[CATALOGS_KEY] = catalogs
    complete = [code for code in sorted(catalogs) if catalogs[code].complete]
    available = [SOURCE_LANGUAGE, *(code for code in complete if code != SOURCE_LANGUAGE)]
    configured = app.config.get("LANGUAGES")
    if configured:
        if isinstance(configured, str):
            configured = [part.strip() for part in configured.split(",") if part.strip()]
        available = [code for code in available if code in configured]
    app.config["LANGUAGES"] = tuple(available)


def catalogs(app: Flask | None = None) -> dict[str, Catalog]:
    """The interface catalogs by code, the source language included."""
    app = app or current_app
    found = dict(app.extensions[CATALOGS_KEY])
    total = max((catalog.total for catalog in found.values()), default=0)
    found.setdefault(SOURCE_LANGUAGE, Catalog(SOURCE_LANGUAGE, total, total))
    return found


def interface_languages(app: Flask | None = None) -> tuple[str, ...]:
    """The languages staff pages (and patients' pages) can be shown in."""
    return tuple((app or current_app).config["LANGUAGES"])


def languages_with_wording(instruments: Iterable) -> set[str]:
    """The languages every one of `instruments` has wording in."""
    sets = [set(instrument.languages) for instrument in instruments]
    return set.intersection(*sets) if sets else set()


def patient_languages(db: Session, app: Flask | None = None) -> tuple[str, ...]:
    """The languages a patient can answer in: a complete interface catalog, and wording for
    every instrument (the shipped ones, with the clinic's imports)."""
    # Imported late: the instruments' wording in use reads the models.
    from survey.domain.wording_in_use import instruments_in_use
    from survey.instruments import INSTRUMENT_IDS

    worded = languages_with_wording(instruments_in_use(db, INSTRUMENT_IDS))
    return tuple(code for code in interface_languages(app) if code in worded)


@dataclass(frozen=True)
class LanguageStatus:
    """How far the service speaks one language, for the staff page and `translate status`."""

    code: str
    catalog: Catalog | None
    # (instrument, wording status in this language or None when it has none), listed order.
    wordings: tuple[tuple[object, str | None], ...]
    for_staff: bool
    for_patients: bool

    @property
    def direction(self) -> str:
        return "rtl" if Locale.parse(self.code).character_order == "right-to-left" else "ltr"


def language_statuses(db: Session, app: Flask | None = None) -> list[LanguageStatus]:
    """Every language the service knows of, from a catalog or from some instrument's wording:
    its catalog's completeness, each instrument's wording status, and who it is offered to."""
    from survey.domain.wording_in_use import instruments_in_use
    from survey.instruments import INSTRUMENT_IDS

    app = app or current_app
    found = catalogs(app)
    instruments = instruments_in_use(db, INSTRUMENT_IDS)
    codes = set(found)
    for instrument in instruments:
        codes.update(instrument.languages)
    staff = set(interface_languages(app))
    patients = set(patient_languages(db, app))
    ordered = [SOURCE_LANGUAGE, *sorted(codes - {SOURCE_LANGUAGE})]
    return [
        LanguageStatus(
            code=code,
            catalog=found.get(code),
            wordings=tuple(
                (
                    instrument,
                    instrument.wording_status(code) if code in instrument.languages else None,
                )
                for instrument in instruments
            ),
            for_staff=code in staff,
            for_patients=code in patients,
        )
        for code in ordered
    ]
