"""What an instrument is: frozen dataclasses built from a definition file.

Nothing here reads files or checks them; `loading.py` does that and is the only
place that constructs these objects from outside data. Every object is immutable
so a cached instrument can be shared by every request and every thread.

These are values: what is done with an instrument is a function over it in the module
for that idea (`answers.validate_answers`, `scoring.score`, `fingerprint.wording_hash`,
`definition_file.definition_dict`), and this module imports none of them, so they can
all import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

#: What a language code looks like: ISO 639 letters, optionally "_" and an ISO 3166 region
#: (Babel's spelling: "ar", "pt_BR"). Any such language Babel knows may carry wording: the
#: languages an instrument speaks are the ones its files give, not a list in code.
LANGUAGE_CODE = r"[a-z]{2,3}(?:_[A-Z]{2})?"

#: How far the words a patient sees can be trusted, per language:
#: "validated" - the exact wording of a formally validated version;
#: "unvalidated translation" - a faithful rendering of the published content
#: (a translation, or a re-wording for self-completion) not validated as worded;
#: "provisional" - stand-in wording written because the official text is not
#: available; it must be replaced by the licensed wording before research use.
WORDING_STATUSES: tuple[str, ...] = ("validated", "unvalidated translation", "provisional")

#: The only kind of cut-off the product ships: thresholds quoted in the literature,
#: not part of the instrument's own scoring.
CUTOFF_KINDS: tuple[str, ...] = ("commonly cited",)

#: The only scoring rule an instrument may declare.
SCORING_METHODS: tuple[str, ...] = ("sum",)


@dataclass(frozen=True)
class Translations:
    """One text in each of an instrument's languages."""

    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, texts: Mapping[str, str]) -> Translations:
        """Build from a language -> text mapping."""
        return cls(tuple(texts.items()))

    def get(self, lang: str) -> str:
        """The text in `lang`; KeyError naming the languages there are."""
        for code, text in self.pairs:
            if code == lang:
                return text
        available = ", ".join(code for code, _ in self.pairs)
        raise KeyError(f"no text in language {lang!r} (available: {available})")

    def as_dict(self) -> dict[str, str]:
        """The texts as a plain language -> text dict."""
        return dict(self.pairs)


@dataclass(frozen=True)
class Wording:
    """Where one language's patient-facing text comes from, for staff."""

    status: str
    note: str
    version: str | None = None


@dataclass(frozen=True)
class Item:
    """One question; `number` is its 1-based position as shown to the patient."""

    id: str
    number: int
    texts: Translations

    def text(self, lang: str) -> str:
        """The question as the patient reads it in `lang`."""
        return self.texts.get(lang)


@dataclass(frozen=True)
class Option:
    """One answer on the instrument's scale: the stored value and its label."""

    value: int
    labels: Translations

    def label(self, lang: str) -> str:
        """The answer as the patient reads it in `lang`."""
        return self.labels.get(lang)


@dataclass(frozen=True)
class Band:
    """A published range of totals with a name (inclusive at both ends)."""

    id: str
    min: int
    max: int
    labels: Translations

    def label(self, lang: str) -> str:
        """The band's name in `lang`."""
        return self.labels.get(lang)

    def contains(self, total: int) -> bool:
        """Whether `total` falls in this band."""
        return self.min <= total <= self.max


@dataclass(frozen=True)
class Subscale:
    """A named group of items whose answers are summed on their own.

    `provisional` marks a mapping the project chose because the published one
    is not available; `note` says so in English for staff.
    """

    id: str
    labels: Translations
    item_ids: tuple[str, ...]
    provisional: bool
    note: str | None = None

    def label(self, lang: str) -> str:
        """The subscale's name in `lang`."""
        return self.labels.get(lang)


@dataclass(frozen=True)
class Cutoff:
    """A threshold on the total quoted in the literature (reached when total >= min_total)."""

    id: str
    min_total: int
    labels: Translations
    citation: str
    kind: str

    def label(self, lang: str) -> str:
        """What reaching the threshold is said to mean, in `lang`."""
        return self.labels.get(lang)


@dataclass(frozen=True)
class MinimalImportantChange:
    """The smallest change in the total that patients notice as mattering, in points.

    `improvement` and `deterioration` are whole points (>= 1) in the instrument's better and
    worse direction; a change of at least that many points is meaningful. When the source
    published a threshold for improvement only, `deterioration_extrapolated` is true: using a
    threshold for worsening is then the product's extrapolation and staff are told so.
    """

    improvement: int
    deterioration: int
    deterioration_extrapolated: bool
    citation: str

    def with_points(self, points: int) -> MinimalImportantChange:
        """The same source with both thresholds set to `points` (a clinic's own setting)."""
        return replace(self, improvement=points, deterioration=points)


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: its texts in every language, its scale, and how it is scored.

    Build one with `load_definition` (or `get_instrument` for a shipped one);
    the constructor trusts its arguments.
    """

    id: str
    version: str
    citation: str
    languages: tuple[str, ...]
    items: tuple[Item, ...]
    options: tuple[Option, ...]
    scoring_method: str
    # The instrument's declared direction: every comparison, chart and band ranking reads it.
    higher_is_worse: bool
    bands: tuple[Band, ...]
    bands_citation: str | None
    subscales: tuple[Subscale, ...]
    cutoffs: tuple[Cutoff, ...]
    titles: Translations
    instruction_texts: Translations
    # One entry per language; None where that language states no recall period.
    recall_periods: tuple[tuple[str, str | None], ...]
    wordings: tuple[tuple[str, Wording], ...]
    # None when no minimal important change has been published for the instrument.
    minimal_important_change: MinimalImportantChange | None = None

    # -- what the patient sees -------------------------------------------------

    def title(self, lang: str) -> str:
        """The questionnaire's name in `lang`."""
        return self._for_language(self.titles.pairs, lang)

    def instructions(self, lang: str) -> str:
        """The short text shown before the questions in `lang`."""
        return self._for_language(self.instruction_texts.pairs, lang)

    def recall_period(self, lang: str) -> str | None:
        """The time the questions are about (e.g. "In the past 4 weeks"), or None."""
        return self._for_language(self.recall_periods, lang)

    def item(self, item_id: str) -> Item:
        """The item with this id; KeyError if there is none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"{self.id} has no item {item_id!r}")

    # -- where the words come from ---------------------------------------------

    def wording_status(self, lang: str) -> str:
        """One of WORDING_STATUSES for the text shown in `lang`."""
        return self._for_language(self.wordings, lang).status

    def wording_note(self, lang: str) -> str:
        """Where the text in `lang` comes from, in English, for staff."""
        return self._for_language(self.wordings, lang).note

    def wording_version(self, lang: str) -> str:
        """The version of the text in `lang`: an imported wording's own version, else `version`."""
        return self._for_language(self.wordings, lang).version or self.version

    # -- scale and scoring -----------------------------------------------------

    @property
    def min_total(self) -> int:
        """The lowest possible total."""
        return len(self.items) * self.options[0].value

    @property
    def max_total(self) -> int:
        """The highest possible total."""
        return len(self.items) * self.options[-1].value

    def is_worse(self, total: int, than: int) -> bool:
        """Whether `total` is worse than `than`, in the instrument's declared direction."""
        return total > than if self.higher_is_worse else total < than

    def best_of(self, totals) -> int:
        """The best of some totals, in the instrument's declared direction."""
        return min(totals) if self.higher_is_worse else max(totals)

    @property
    def bands_best_first(self) -> tuple[Band, ...]:
        """The bands from the best (least impact) to the worst, in the declared direction."""
        by_total = tuple(sorted(self.bands, key=lambda band: band.min))
        return by_total if self.higher_is_worse else by_total[::-1]

    def band_rank(self, band_id: str | None) -> int | None:
        """A band's place from the best (0) to the worst; None for no band or an unknown id."""
        ids = [band.id for band in self.bands_best_first]
        return ids.index(band_id) if band_id in ids else None

    def band_for(self, total: int) -> Band | None:
        """The band containing `total`, or None when the instrument has no bands.

        A total outside min_total..max_total is a bug in the caller: ValueError.
        """
        if not self.min_total <= total <= self.max_total:
            raise ValueError(
                f"{self.id} totals run from {self.min_total} to {self.max_total}, not {total}"
            )
        return next((band for band in self.bands if band.contains(total)), None)

    def _for_language(self, pairs: tuple[tuple[str, object], ...], lang: str):
        for code, value in pairs:
            if code == lang:
                return value
        raise KeyError(
            f"{self.id} has no text in language {lang!r} (available: {', '.join(self.languages)})"
        )
