"""Trend charts as server-side SVG: no JavaScript, no chart library, readable when printed.

Each chart is an image with a title and description for screen readers; the data table the
page puts beside it is the accessible source of truth. Every text is escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape

from survey.instruments import SHORT_NAMES, Instrument

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 40, 16, 52  # the right margin holds cut-off labels
DAYS_PER_WEEK, DAYS_PER_MONTH = 7, 30.4375
WEEKS_UP_TO_DAYS = 16 * 7  # a shorter course is drawn in weeks, a longer one in months
MIN_SPAN_DAYS = 28
VALUE_ROOM = 14  # px from the plot's right edge within which a value label turns left
LABEL_CLEARANCE = 14  # px kept between a value label's middle and a cut-off line's height

# Light tints, least to most impact; the legend and the table carry the meaning, not the colour.
# A band's tint follows its rank in the instrument's declared direction, not its totals.
BAND_FILLS = ("#e6f4ea", "#f1f7d9", "#fdf3d0", "#fde4cf", "#f9d6d5")


@dataclass(frozen=True)
class Point:
    """One plotted total: `day` since the origin, the label of its timepoint, and whether it
    was answered with provisional wording (drawn hollow and said so)."""

    day: int
    total: int
    label: str
    provisional: bool = False


@dataclass(frozen=True)
class Axis:
    unit: str  # "weeks" or "months"
    start: int  # days
    end: int  # days
    ticks: tuple[int, ...]  # in units

    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_WEEK if self.unit == "weeks" else DAYS_PER_MONTH


def time_axis(days: list[int]) -> Axis:
    """An x axis covering every day given (and day 0), in weeks or months with round ticks;
    it runs on to the next whole tick, so the last point never sits past the last label."""
    start = min([0, *days])
    end = max([*days, start + MIN_SPAN_DAYS])
    unit = "weeks" if end - start <= WEEKS_UP_TO_DAYS else "months"
    per_unit = DAYS_PER_WEEK if unit == "weeks" else DAYS_PER_MONTH
    low, high = start / per_unit, end / per_unit
    step = next(s for s in (1, 2, 3, 4, 6, 12, 24, 60) if (high - low) / s <= 8)
    # A point a day past a whole month (183 days is 6.01 months) does not earn a new tick.
    last = math.ceil(high / step - 0.05) * step
    end = max(end, round(last * per_unit))
    first = math.ceil(low / step) * step
    return Axis(unit, start, end, tuple(range(first, last + 1, step)))


def band_fill(index: int) -> str:
    return BAND_FILLS[min(index, len(BAND_FILLS) - 1)]


def trend_chart(
    instrument: Instrument,
    points: list[Point],
    *,
    chart_id: str,
    title: str,
    description: str,
    lang: str,
    from_index_date: bool = True,
) -> Markup:
    """An SVG line chart of an instrument's totals over time, bands shaded, cut-offs marked."""
    axis = time_axis([point.day for point in points])
    low, high = instrument.min_total, instrument.max_total
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: float) -> float:
        return round(LEFT + (day - axis.start) / (axis.end - axis.start) * plot_w, 1)

    def y(total: float) -> float:
        return round(TOP + (high - total) / (high - low) * plot_h, 1)

    parts = [
        # Time runs left to right and numbers read as numbers on every page, right-to-left
        # ones included: the chart keeps its own direction whatever the page's.
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        'direction="ltr" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for band in instrument.bands:
        index = instrument.band_rank(band.id)
        top, bottom = y(min(band.max + 0.5, high)), y(max(band.min - 0.5, low))
        parts.append(
            f'<rect class="band band-{escape(band.id)}" x="{LEFT}" y="{top}" width="{plot_w}" '
            f'height="{round(bottom - top, 1)}" fill="{band_fill(index)}">'
            f"<title>{escape(band.label(lang))}: {band.min}\u2013{band.max}</title></rect>"
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#4a5461" stroke-width="1"/>'
    )
    for tick in _value_ticks(instrument):
        parts.append(
            f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y(tick)}" y2="{y(tick)}" stroke="#4a5461"/>'
            f'<text class="tick" x="{LEFT - 7}" y="{y(tick) + 4}" text-anchor="end">{tick}</text>'
        )
    for cutoff in instrument.cutoffs:
        parts.append(
            f'<line class="cutoff" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(cutoff.min_total)}" '
            f'y2="{y(cutoff.min_total)}" stroke="#7a3e00" stroke-width="1.5" '
            f'stroke-dasharray="6 4"><title>{escape(cutoff.label(lang))}</title></line>'
            f'<text class="cutoff-label" x="{LEFT + plot_w + 4}" y="{y(cutoff.min_total) + 4}" '
            f'text-anchor="start">\u2265 {cutoff.min_total}</text>'
        )
    for tick in axis.ticks:
        at = x(tick * axis.days_per_unit)
        parts.append(
            f'<line x1="{at}" x2="{at}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" '
            f'stroke="#4a5461"/><text class="tick" x="{at}" y="{TOP + plot_h + 18}" '
            f'text-anchor="middle">{tick}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" '
        f'text-anchor="middle">{escape(_axis_label(axis.unit, from_index_date))}</text>'
    )
    if len(points) > 1:
        path = " ".join(f"{x(p.day)},{y(p.total)}" for p in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#0b5cad" stroke-width="2"/>')
    right_edge = LEFT + plot_w
    cutoff_heights = [y(cutoff.min_total) for cutoff in instrument.cutoffs]
    for point in points:
        at = x(point.day)
        # A value near the right edge is written to the left of its point, and below it when
        # above would put it level with a cut-off label in the right margin: "8" and "≥ 9"
        # must never read as one ("8≥ 9").
        anchor, text_x = ("end", at - 6) if at > right_edge - VALUE_ROOM else ("middle", at)
        text_y = y(point.total) - 9
        if anchor == "end" and any(abs(text_y - 4 - h) < LABEL_CLEARANCE for h in cutoff_heights):
            text_y = y(point.total) + 18
        fill = (
            'fill="#ffffff" stroke="#0b5cad" stroke-width="2"'
            if point.provisional
            else 'fill="#0b5cad"'
        )
        note = _(" (provisional wording)") if point.provisional else ""
        parts.append(
            f'<g class="point{" provisional" if point.provisional else ""}">'
            f'<circle cx="{at}" cy="{y(point.total)}" r="4.5" {fill}>'
            f"<title>{escape(point.label)}: {point.total}{escape(note)}</title></circle>"
            f'<text class="value" x="{text_x}" y="{round(text_y, 1)}" '
            f'text-anchor="{anchor}">{point.total}</text></g>'
        )
    parts.append("</svg>")
    # Safe: every text and attribute value above went through escape(); numbers are ours.
    return Markup("".join(parts))  # noqa: S704


def _value_ticks(instrument: Instrument) -> list[int]:
    if instrument.bands:
        return sorted({instrument.min_total, *(band.max for band in instrument.bands)})
    span = instrument.max_total - instrument.min_total
    step = next(s for s in (1, 2, 5, 10, 20, 50) if span / s <= 5)
    return list(range(instrument.min_total, instrument.max_total + 1, step))


def _axis_label(unit: str, from_index_date: bool) -> str:
    if from_index_date:
        return (
            _("Weeks since the index date") if unit == "weeks" else _("Months since the index date")
        )
    return (
        _("Weeks since the first response")
        if unit == "weeks"
        else _("Months since the first response")
    )


def course_chart(course, from_index_date: bool, lang: str, chart_id: str) -> Markup:
    """The trend chart of one instrument's course (an `InstrumentCourse` from results.py)."""
    instrument = course.instrument
    points = [
        Point(result.day, result.total, result.timepoint, result.provisional)
        for result in course.results
        if result.day is not None
    ]
    values = "; ".join(
        _(
            "%(timepoint)s: %(total)d (provisional wording)",
            timepoint=point.label,
            total=point.total,
        )
        if point.provisional
        else _("%(timepoint)s: %(total)d", timepoint=point.label, total=point.total)
        for point in points
    )
    if instrument.bands:
        shading = _("Shaded regions are the published bands.")
    elif instrument.cutoffs:
        shading = _("The dashed line marks a commonly cited cut-off.")
    else:
        shading = ""
    provisional = (
        _("Hollow points were answered with provisional wording: not validated scores.")
        if any(point.provisional for point in points)
        else ""
    )
    summary = (
        _(
            "%(name)s total at each answered timepoint, higher is worse (%(low)d to %(high)d).",
            name=short_name(instrument),
            low=instrument.min_total,
            high=instrument.max_total,
        )
        if instrument.higher_is_worse
        else _(
            "%(name)s total at each answered timepoint, higher is better (%(low)d to %(high)d).",
            name=short_name(instrument),
            low=instrument.min_total,
            high=instrument.max_total,
        )
    )
    description = " ".join(
        part
        for part in (
            summary,
            f"{values}." if values else _("No answers yet."),
            shading,
            provisional,
        )
        if part
    )
    return trend_chart(
        instrument,
        points,
        chart_id=chart_id,
        title=_("%(name)s total over time", name=short_name(instrument)),
        description=description,
        lang=lang,
        from_index_date=from_index_date,
    )


def short_name(instrument: Instrument) -> str:
    """The name staff use for an instrument in a heading: "QoLAF-Q", "CCIS"."""
    return SHORT_NAMES.get(instrument.id, instrument.id)
