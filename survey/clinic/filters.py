"""The patient list's query parameters, checked strictly: a value that is not understood is
ignored and named in a message, never passed to the database and never an error page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from survey.instruments import QOLAF, get_instrument
from survey.models import User
from survey.querystring import parse_whole_number

SORTS = (
    "reference",
    "qolaf",
    "qolaf_change",
    "qolaf_change_previous",
    "ccis",
    "ccis_change",
    "ccis_change_previous",
    "last_response",
    "next_due",
)
MAX_PAGE = 100_000
MAX_REFERENCE = 64
YES = ("1", "yes", "on", "true")
NO = ("", "0", "no", "off", "false")

# What each parameter is called in the page's messages.
NAMES = {
    "band": _l("QoLAF-Q band"),
    "overdue": _l("Overdue"),
    "worsened": _l("Worsened"),
    "language": _l("Language"),
    "site": _l("Site"),
    "q": _l("Reference"),
    "sort": _l("Sort"),
    "page": _l("Page"),
}


@dataclass
class ListFilters:
    """What the list shows: every field already checked."""

    band: str | None = None
    overdue: bool = False
    worsened: bool = False
    language: str | None = None
    site: int | None = None
    reference: str = ""
    sort: str = "reference"
    page: int = 1
    ignored: list[str] = field(default_factory=list)  # parameter names whose value was refused

    def site_ids(self, user: User) -> list[int]:
        """The sites to list: the chosen one (already checked to be the user's), or all theirs."""
        return [self.site] if self.site is not None else user.site_ids

    def as_args(self, **changes) -> dict[str, str]:
        """The query parameters that reproduce these filters, with `changes` applied."""
        args = {
            "band": self.band or "",
            "overdue": "1" if self.overdue else "",
            "worsened": "1" if self.worsened else "",
            "language": self.language or "",
            "site": str(self.site) if self.site is not None else "",
            "q": self.reference,
            "sort": self.sort if self.sort != "reference" else "",
            "page": str(self.page) if self.page != 1 else "",
        }
        args.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in args.items() if value not in ("", "None")}

    @property
    def ignored_names(self) -> list[str]:
        return [str(NAMES[name]) for name in self.ignored]


def parse_filters(args: Mapping[str, str], user: User, languages: tuple[str, ...]) -> ListFilters:
    """Read the list's parameters from a request's query string."""
    filters = ListFilters()
    band_ids = {band.id for band in get_instrument(QOLAF).bands}

    def refuse(name: str) -> None:
        filters.ignored.append(name)

    if value := args.get("band", ""):
        filters.band = value if value in band_ids else refuse("band")
    for name in ("overdue", "worsened"):
        value = args.get(name, "").strip().lower()
        if value in YES:
            setattr(filters, name, True)
        elif value not in NO:
            refuse(name)
    if value := args.get("language", ""):
        filters.language = value if value in languages else refuse("language")
    if value := args.get("site", ""):
        site = parse_whole_number(value, longest=9)
        filters.site = site if site is not None and site in user.site_ids else refuse("site")
    if value := args.get("q", "").strip():
        if len(value) <= MAX_REFERENCE and value.isprintable():
            filters.reference = value
        else:
            refuse("q")
    if value := args.get("sort", ""):
        filters.sort = (
            value
            if value.lstrip("-") in SORTS and value.count("-") <= 1
            else (refuse("sort") or "reference")
        )
    if value := args.get("page", ""):
        page = parse_whole_number(value, longest=9)
        filters.page = page if page is not None and 1 <= page <= MAX_PAGE else (refuse("page") or 1)
    return filters
