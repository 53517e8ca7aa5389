"""Trend charts: well-formed SVG that screen readers can name, drawing exactly the data."""

import xml.etree.ElementTree as ET

import pytest

from survey.clinic.charts import Point, course_chart, time_axis, trend_chart
from survey.clinic.results import patient_course
from survey.extensions import db
from survey.instruments import get_instrument

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314  (our own output, not outside data)


def chart(points, instrument="qolaf-q", **kwargs):
    return trend_chart(
        get_instrument(instrument),
        points,
        chart_id="c",
        title="T",
        description="D",
        lang="en",
        **kwargs,
    )


def test_a_chart_is_an_image_named_by_its_title_and_description():
    svg = parse(chart([Point(0, 51, "baseline")]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").get("id") == "c-title" and svg.find(f"{SVG}desc").text == "D"


def test_qolaf_bands_are_shaded_from_the_definition():
    svg = parse(chart([Point(0, 51, "baseline")]))
    bands = [r for r in svg.iter(f"{SVG}rect") if "band" in (r.get("class") or "")]
    assert [r.get("class") for r in bands] == [
        "band band-none",
        "band band-limited",
        "band band-moderate",
        "band band-high",
        "band band-very-high",
    ]
    assert [r.find(f"{SVG}title").text for r in bands][1] == "Limited impact: 15\u201328"
    # The regions stack without gaps from the bottom (14) to the top (70) of the plot.
    edges = sorted((float(r.get("y")), float(r.get("y")) + float(r.get("height"))) for r in bands)
    assert all(abs(a[1] - b[0]) < 0.2 for a, b in zip(edges, edges[1:], strict=False))


def test_the_ccis_chart_marks_the_commonly_cited_cut_off():
    svg = parse(chart([Point(0, 10, "baseline")], instrument="ccis"))
    (line,) = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "cutoff"]
    assert "commonly cited" in line.find(f"{SVG}title").text
    assert not [r for r in svg.iter(f"{SVG}rect") if "band" in (r.get("class") or "")]


def test_points_and_values_are_drawn_in_order_and_higher_totals_sit_higher():
    svg = parse(chart([Point(-6, 51, "baseline"), Point(183, 28, "6 months")]))
    values = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "value"]
    assert [t.text for t in values] == ["51", "28"]
    circles = list(svg.iter(f"{SVG}circle"))
    assert float(circles[0].get("cy")) < float(circles[1].get("cy"))
    assert float(circles[0].get("cx")) < float(circles[1].get("cx"))
    assert circles[0].find(f"{SVG}title").text == "baseline: 51"


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script>&'
    markup = trend_chart(
        get_instrument("ccis"),
        [Point(0, 3, hostile)],
        chart_id='c"><x',
        title=hostile,
        description=hostile,
        lang="en",
    )
    assert "<script>" not in str(markup)
    svg = parse(markup)  # still well-formed
    assert svg.find(f"{SVG}title").text == hostile


@pytest.mark.parametrize(
    "days, unit, ticks",
    [
        ([0], "weeks", (0, 1, 2, 3, 4)),
        ([-6, 22], "weeks", (0, 1, 2, 3, 4)),
        ([-14, 90], "weeks", (-2, 0, 2, 4, 6, 8, 10, 12, 14)),
        ([-6, 22, 50], "weeks", (0, 1, 2, 3, 4, 5, 6, 7, 8)),
        ([-6, 22, 92, 183], "months", (0, 1, 2, 3, 4, 5, 6)),
        ([0, 365 * 2], "months", (0, 3, 6, 9, 12, 15, 18, 21, 24)),
    ],
)
def test_the_time_axis_reads_in_weeks_or_months(days, unit, ticks):
    axis = time_axis(days)
    assert (axis.unit, axis.ticks) == (unit, ticks)
    assert axis.start <= min(days) and axis.end >= max(days)


def test_the_course_chart_describes_its_numbers_in_words(app, published_case):
    with app.test_request_context():
        course = patient_course(db.session, published_case)
        svg = parse(course_chart(course.instruments["ccis"], True, "en", "chart-ccis"))
    assert svg.find(f"{SVG}title").text == "CCIS total over time"
    assert svg.find(f"{SVG}desc").text == (
        "CCIS total at each answered timepoint, higher is worse (0 to 20). "
        "baseline: 10; 3 weeks: 6; 3 months: 2; 6 months: 0. "
        "The dashed line marks a commonly cited cut-off."
    )
    axis_label = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    assert axis_label == ["Months since the index date"]
