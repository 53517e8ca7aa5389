"""The clinician list's figure cells, rendered once per process, not on every row.

A list page shows 50 rows of two questionnaires, each with its latest total and two changes:
rendering those cells through their macros (`clinic/_macros.html`) was a fifth of the page's
time, yet a cell can only hold a few values (a total or a change, provisional or not) in each
language. The HTML of each is kept the first time it is rendered, as survey/patient/fragments.py
keeps the questionnaire's items, for as long as the instrument object in use stays the same (an
imported wording makes a new object). The cells hold numbers and the instruments' own texts,
never patient data: the macros escape as they always did, and their Markup is kept as it is.

The page calls plain methods of a `ListCells` made for its request, not functions that take
Jinja's context: Jinja derives a new context for each such call inside a loop, which had cost
more than the cells themselves."""

from flask import current_app
from jinja2.environment import TemplateModule
from markupsafe import Markup

from survey.clinic.charts import short_name
from survey.clinic.flag_texts import reference_text
from survey.clinic.listing import Figures
from survey.clinic.results import change_text
from survey.i18n import gettext
from survey.instruments import Instrument
from survey.instruments.change import Comparison

TEMPLATE = "clinic/_macros.html"

# instrument id -> (the instrument in use, {key: HTML})
_rendered: dict[str, tuple[Instrument, dict[tuple, Markup]]] = {}


class ListCells:
    """The figure cells of one list page, in its reader's language (`locale` words the
    changes and marks) and the instruments' language (`lang` names bands and cutoffs)."""

    def __init__(self, locale: str, lang: str):
        self.locale = locale
        self.lang = lang
        self.fresh = current_app.jinja_env.auto_reload  # development: show template edits
        self._macros: TemplateModule | None = None

    def latest(self, figures: Figures) -> Markup:
        """The latest total with its band, cutoffs and provisional mark, or a dash."""
        return self._kept(
            figures.instrument,
            ("latest", figures.latest, figures.provisional),
            lambda: self.macros.latest_figure(
                figures.instrument, figures.latest, figures.provisional
            ),
        )

    def baseline_change(self, figures: Figures) -> Markup:
        """The change from baseline in words, marked provisional if an end of it is."""
        return self._change(figures.instrument, figures.change, figures.change_provisional)

    def previous_change(self, figures: Figures) -> Markup:
        """The change from the previous answers in words, marked provisional if an end of it
        is."""
        return self._change(
            figures.instrument, figures.change_previous, figures.change_previous_provisional
        )

    def worsened(self, instrument: Instrument, comparisons: tuple[Comparison, ...]) -> Markup:
        """The Follow-up column's words for a worsening: "CCIS worse than the previous
        answers, the best so far"."""
        key = ("worsened", tuple(comparison.reference for comparison in comparisons))
        return self._kept(instrument, key, lambda: _worsened_text(instrument, comparisons))

    def _change(
        self, instrument: Instrument, change: Comparison | None, provisional: bool
    ) -> Markup:
        if not change:
            key: tuple = ("change", None)
        else:
            key = ("change", change.delta, change.direction, change.verdict, change.extrapolated)
            key += (provisional,)
        return self._kept(
            instrument, key, lambda: self.macros.change_cell(change, change and provisional)
        )

    def _kept(self, instrument: Instrument, key: tuple, render) -> Markup:
        if self.fresh:
            return render()
        kept = _rendered.get(instrument.id)
        if kept is None or kept[0] is not instrument:
            kept = _rendered[instrument.id] = (instrument, {})
        key = (self.locale, self.lang, *key)
        html = kept[1].get(key)
        if html is None:
            html = kept[1][key] = render()
        return html

    @property
    def macros(self) -> TemplateModule:
        """The macros, with the names they read from the page's context."""
        if self._macros is None:
            template = current_app.jinja_env.get_template(TEMPLATE)
            self._macros = template.make_module({"change_text": change_text, "lang": self.lang})
        return self._macros


def _worsened_text(instrument: Instrument, comparisons: tuple[Comparison, ...]) -> Markup:
    # As the template's `_()` wrote it: the catalog's text as it is (translators' text, never
    # patient data), the values put into it escaped by Markup's `%`.
    text = Markup(gettext("%(name)s worse than %(against)s"))  # noqa: S704
    against = ", ".join(reference_text(comparison.reference) for comparison in comparisons)
    return text % {"name": short_name(instrument), "against": against}
