"""The completion analytics page and its CSV, for clinicians and admins, per site they may
see (the figures themselves are survey/domain/analytics.py). Viewing and downloading are audited."""

import csv
import io

from flask import Response, abort, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.auth import staff_required
from survey.clinic.analytics_chart import rate_chart, rate_text
from survey.clinic.blueprint import bp
from survey.clinic.exports import safe_cell
from survey.domain import audit_trail
from survey.domain.analytics import DIMENSIONS, NO_TEXT, TEXT, Figures, Tally, completion_figures
from survey.extensions import db
from survey.i18n import language_name
from survey.models import ResponseMode, utcnow
from survey.querystring import parse_whole_number
from survey.staff_areas import Area

HEADINGS = {
    "timepoint": _l("Completion by timepoint"),
    "language": _l("Completion by language"),
    "channel": _l("Completion by channel"),
    "mode": _l("Completion by way of answering"),
    "month": _l("Completion by month the window opened"),
}
GROUP_HEADINGS = {
    "timepoint": _l("Timepoint"),
    "language": _l("Language"),
    "channel": _l("Channel"),
    "mode": _l("Way of answering"),
    "month": _l("Month"),
}
MODE_LABELS = {
    ResponseMode.WEB: _l("Own phone (text link)"),
    ResponseMode.TABLET: _l("Clinic tablet"),
    ResponseMode.PAPER: _l("Paper, entered by staff"),
    ResponseMode.PHONE: _l("Phone call, entered by staff"),
}
CSV_COLUMNS = ("breakdown", "group", "measure", "value")
TALLY_MEASURES = ("invitations", "texted", "opened", "completed", "expired", "still_open", "rate")


def chosen_sites():
    """The sites asked for (?site=ID, one of the user's; 404 for any other), else all theirs."""
    raw = request.args.get("site", "")
    if not raw:
        return list(g.user.sites), None
    wanted = parse_whole_number(raw, longest=11)
    site = next((s for s in g.user.sites if s.id == wanted), None)
    if site is None:
        abort(404)
    return [site], site


def group_label(dimension: str, key: str) -> str:
    if dimension == "language":
        return language_name(key) if key else key
    if dimension == "channel":
        return {TEXT: _("Text message"), NO_TEXT: _("No text (link given in clinic)")}.get(key, key)
    if dimension == "mode":
        return str(MODE_LABELS.get(key, key))
    return key


def bars(dimension: str, tallies: list[Tally]) -> list[tuple[str, float | None, str]]:
    made = []
    for tally in tallies:
        label = group_label(dimension, tally.key)
        known = tally.completed + tally.expired
        words = _(
            "%(group)s: %(rate)s (%(completed)d of %(known)d)",
            group=label,
            rate=rate_text(tally.rate),
            completed=tally.completed,
            known=known,
        )
        made.append((label, tally.rate, words))
    return made


@bp.get("/analytics")
@staff_required(Area.CLINICAL)
def analytics():
    """Completion figures of the user's sites, or one of them."""
    sites, site = chosen_sites()
    figures = completion_figures(db.session, [s.id for s in sites])
    audit_trail.log(
        "analytics.view", site_id=site.id if site else None, detail={"sites": [s.id for s in sites]}
    )
    db.session.commit()
    charts = {
        dimension: rate_chart(
            f"chart-{dimension}", str(HEADINGS[dimension]), bars(dimension, tallies)
        )
        for dimension, tallies in figures.breakdowns.items()
        if tallies
    }
    return render_template(
        "clinic/analytics.html",
        figures=figures,
        site=site,
        charts=charts,
        dimensions=DIMENSIONS,
        headings=HEADINGS,
        group_headings=GROUP_HEADINGS,
        group_label=group_label,
        rate_text=rate_text,
    )


@bp.get("/analytics.csv")
@staff_required(Area.CLINICAL)
def analytics_csv():
    """The same figures as a CSV file (audited)."""
    sites, site = chosen_sites()
    figures = completion_figures(db.session, [s.id for s in sites])
    audit_trail.log(
        "analytics.export",
        site_id=site.id if site else None,
        detail={"sites": [s.id for s in sites]},
    )
    db.session.commit()
    stamp = utcnow()
    return Response(
        csv_text(figures),
        mimetype="text/csv",
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (f'attachment; filename="completion-{stamp:%Y%m%d-%H%M%S}.csv"'),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def csv_text(figures: Figures) -> str:
    """Every figure as one row (breakdown, group, measure, value): a long table any
    spreadsheet or statistics package pivots. Rates are fractions from 0 to 1."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    tallies = [("all", figures.totals)] + [
        (dimension, tally) for dimension in DIMENSIONS for tally in figures.breakdowns[dimension]
    ]
    for dimension, tally in tallies:
        for measure in TALLY_MEASURES:
            value = getattr(tally, measure)
            writer.writerow([safe_cell(dimension), safe_cell(tally.key), measure, _number(value)])
    median = figures.median_hours_to_complete
    writer.writerow(["all", "all", "median_hours_first_text_to_completion", _number(median)])
    writer.writerow(["all", "all", "completions_timed", figures.completions_timed])
    for reminders, count in figures.reminders_needed:
        writer.writerow(["reminders_before_completion", reminders, "completed", count])
    writer.writerow(
        ["all", "all", "patients_with_two_or_more_missed", figures.patients_missing_two]
    )
    return buffer.getvalue()


def _number(value) -> str | int:
    if value is None:
        return ""
    return round(value, 4) if isinstance(value, float) else value
