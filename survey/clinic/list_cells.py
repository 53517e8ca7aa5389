"""The clinician list's figure cells, rendered once per process, not on every row.

A list page shows 50 rows of two questionnaires, each with its latest total and two changes:
rendering those cells through their macros (`clinic/_macros.html`) was a fifth of the page's
time, yet a cell can only hold a few values (a total or a change, provisional or not) in each
language. The HTML of each is kept the first time it is rendered, as survey/patient/fragments.py
keeps the questionnaire's items, for as long as the instrument object in use stays the same (an
imported wording makes a new object). The cells hold numbers and the instruments' own texts,
never patient data: the macros escape as they always did, and their Markup is kept as it is."""

from flask_babel import get_locale
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from survey.clinic.listing import Figures
from survey.instruments import Instrument
from survey.instruments.change import Comparison

# instrument id -> (the instrument in use, {key: HTML})
_rendered: dict[str, tuple[Instrument, dict[tuple, Markup]]] = {}


def _kept(context: Context, instrument: Instrument, key: tuple, render) -> Markup:
    if context.environment.auto_reload:  # development: show template edits at once
        return render()
    kept = _rendered.get(instrument.id)
    if kept is None or kept[0] is not instrument:
        kept = _rendered[instrument.id] = (instrument, {})
    # The reader's language words the changes; `lang` names the bands and cutoffs.
    key = (str(get_locale()), context.resolve("lang"), *key)
    html = kept[1].get(key)
    if html is None:
        html = kept[1][key] = render()
    return html


@pass_context
def latest_cell(context: Context, figures: Figures) -> Markup:
    """The latest total with its band, cutoffs and provisional mark, or a dash."""
    macro = context.resolve("latest_figure")
    key = ("latest", figures.latest, figures.provisional)
    return _kept(
        context,
        figures.instrument,
        key,
        lambda: macro(figures.instrument, figures.latest, figures.provisional),
    )


@pass_context
def baseline_change_cell(context: Context, figures: Figures) -> Markup:
    """The change from baseline in words, marked provisional if an end of it is."""
    return _change_cell(context, figures, figures.change, figures.change_provisional)


@pass_context
def previous_change_cell(context: Context, figures: Figures) -> Markup:
    """The change from the previous answers in words, marked provisional if an end of it is."""
    return _change_cell(
        context, figures, figures.change_previous, figures.change_previous_provisional
    )


def _change_cell(
    context: Context, figures: Figures, change: Comparison | None, provisional: bool
) -> Markup:
    macro = context.resolve("change_cell")
    if not change:
        key = ("change", None)
    else:
        key = ("change", change.delta, change.direction, change.verdict, change.extrapolated)
        key += (provisional,)
    return _kept(context, figures.instrument, key, lambda: macro(change, change and provisional))
