"""Completion rates as a server-side SVG bar chart: no JavaScript, scales to a phone's width.

The chart is an image with a title and a description that says every bar in words; the
table the page puts beside it holds the same numbers. Every text is escaped."""

from markupsafe import Markup, escape

WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH, VALUE_WIDTH = 320, 18, 8, 96, 64


def rate_text(rate: float | None) -> str:
    return "\u2014" if rate is None else f"{round(rate * 100)}%"


def rate_chart(chart_id: str, title: str, bars: list[tuple[str, float | None, str]]) -> Markup:
    """Horizontal bars, one per (label, rate 0..1 or None, words for the description)."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = [
        f'<svg id="{escape(chart_id)}" class="rate-chart" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">'
        f"{escape('; '.join(words for _label, _rate, words in bars))}</desc>",
    ]
    for index, (label, rate, _words) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        middle = y + BAR_HEIGHT / 2 + 4
        width = 0 if rate is None else round(room * rate, 1)
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{middle}" text-anchor="end">'
            f"{escape(label[:18])}</text>"
        )
        parts.append(
            f'<rect class="track" x="{LABEL_WIDTH}" y="{y}" width="{room}" height="{BAR_HEIGHT}"/>'
        )
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}"/>'
        )
        parts.append(
            f'<text class="value" x="{LABEL_WIDTH + room + 6}" y="{middle}">'
            f"{escape(rate_text(rate))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704
