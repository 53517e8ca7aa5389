"""What a clinician reads on the list, the patient page and the printable summary."""

import re
from html import unescape

import pytest
from sqlalchemy import event, select

from survey.extensions import db
from survey.models import AuditEvent


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each row of a table, tags stripped, whitespace collapsed."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_the_list_shows_scores_bands_and_worded_change(
    signed_in, published_case, worsened_continence
):
    page = signed_in.get("/clinic/")
    assert page.status_code == 200
    row = re.search(r'<tr data-patient="CASE-51">(.*?)</tr>', page.text, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "28 Limited impact" in text
    assert "\u221223 (better)" in text and "\u221210 (better)" in text
    worse = re.search(r'<tr data-patient="CASE-WORSE">(.*?)</tr>', page.text, re.S).group(1)
    assert "+5 (worse)" in worse
    assert 'class="wide"' in page.text


def test_the_list_is_the_session_with_its_user_and_sites_the_list_and_the_audit_row(
    signed_in, published_case
):
    """Statements of a signed-in list page: the session, its user and their sites in one; the
    list in one; the audit row; and nothing read again after the commit."""
    signed_in.get("/clinic/")  # the session's last-seen time touched, if it is due
    sent = []
    listener = lambda *args: sent.append(args[2].split(None, 1)[0].upper())  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert signed_in.get("/clinic/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert sent == ["SELECT", "SELECT", "INSERT"]
    assert db.session.scalars(select(AuditEvent.action)).all()[-1] == "patients.list"


def test_the_list_filters_by_query_parameters(signed_in, published_case, worsened_continence):
    page = signed_in.get("/clinic/?worsened=1")
    assert "CASE-WORSE" in page.text and 'data-patient="CASE-51"' not in page.text


@pytest.mark.parametrize(
    "query",
    [
        "band=<script>alert(1)</script>",
        "page=-1",
        "sort=phone",
        "language=xx",
        "site=0",
        "page=" + "9" * 40,
        "q=" + "%00",
        "worsened=%F0%9F%92%A9",
    ],
)
def test_a_filter_that_is_not_understood_is_ignored_with_a_message(
    signed_in, published_case, query
):
    page = signed_in.get(f"/clinic/?{query}")
    assert page.status_code == 200
    assert "were not understood and were ignored" in page.text
    assert "<script>alert" not in page.text
    assert 'data-patient="CASE-51"' in page.text


def test_naughty_strings_never_break_the_list(signed_in, published_case):
    from tests.fixtures.patients import hostile_strings

    texts = hostile_strings()[::5]
    assert len(texts) > 20
    for text in texts:
        for name in ("q", "band", "sort", "page", "site", "language"):
            assert signed_in.get("/clinic/", query_string={name: text}).status_code == 200


def test_the_patient_page_tells_the_published_case(signed_in, published_case):
    page = signed_in.get(f"/clinic/patients/{published_case.id}")
    assert page.status_code == 200
    html = page.text
    compare = cells(html, "baseline-latest")
    assert compare[1][0] == "QoLAF-Q"
    assert compare[1][1].startswith("51 High impact")
    assert compare[1][2].startswith("28 Limited impact")
    assert compare[1][3] == "\u221223 (better)"
    assert compare[2][1].startswith("10 \u2265 9 : 9 or more: commonly cited as severe")
    assert compare[2][2].startswith("0 6 months")
    assert compare[2][3] == "\u221210 (better)"

    qolaf = cells(html, "table-qolaf-q")
    # The shipped QoLAF-Q wording is provisional: every total says so where it is read.
    assert [row[3] for row in qolaf[1:]] == [f"{t} provisional" for t in (51, 44, 35, 28)]
    assert [row[4] for row in qolaf[1:]] == [
        "High impact",
        "High impact",
        "Moderate impact",
        "Limited impact",
    ]
    assert [row[2] for row in qolaf[1:]] == ["-6", "22", "92", "183"]
    ccis = cells(html, "table-ccis")
    assert [row[3].split()[0] for row in ccis[1:]] == ["10", "6", "2", "0"]
    assert [row[4] for row in ccis[1:]] == ["2", "1", "0", "0"]  # the pad item
    assert [row[5] for row in ccis[1:]] == [
        "\u2014",
        "\u22124 (better)",
        "\u22128 (better)",
        "\u221210 (better)",
    ]

    # The chart draws the same numbers, with its title and description for screen readers.
    chart = re.search(r'<svg[^>]*id="chart-qolaf-q".*?</svg>', html, re.S).group(0)
    assert re.findall(r'<text class="value"[^>]*>(\d+)</text>', chart) == ["51", "44", "35", "28"]
    assert (
        'role="img"' in chart
        and 'aria-labelledby="chart-qolaf-q-title chart-qolaf-q-desc"' in chart
    )
    assert (
        "baseline: 51 (provisional wording); 3 weeks: 44 (provisional wording); "
        "3 months: 35 (provisional wording); 6 months: 28 (provisional wording)" in chart
    )
    assert chart.count('class="point provisional"') == 4
    assert chart.count('class="band band-') == 5

    # What is new at the latest timepoint, and where the band comes from.
    new = re.search(r'<section aria-labelledby="new-heading".*?</section>', html, re.S).group(0)
    assert "6 months" in new
    assert "Moderate impact (35) to" in new and "Limited impact (28)" in new
    assert "Cir Esp 2018;96:213-20" in new


def test_the_patient_page_shows_every_item_answer_and_the_pad_item(signed_in, published_case):
    html = signed_in.get(f"/clinic/patients/{published_case.id}").text
    items = cells(html, "items-ccis-1")
    assert items[0] == ["Item", "baseline", "3 weeks", "3 months", "6 months"]
    pad = items[4]  # item 4 of 5
    assert "pad item" in pad[0] and pad[0].startswith("4. ")
    assert [value.split()[0] for value in pad[1:]] == ["2", "1", "0", "0"]
    assert items[-1] == ["Total", "10", "6", "2", "0"]
    qolaf_items = cells(html, "items-qolaf-q-1")
    assert len(qolaf_items) == 1 + 14 + 1
    assert qolaf_items[-1] == ["Total"] + [f"{t} provisional" for t in (51, 44, 35, 28)]


def test_a_score_from_the_pad_item_alone_is_pointed_out(signed_in, site, make_patient):
    from tests.fixtures.clinic import add_history

    patient = make_patient(site, reference="PADS")
    add_history(patient, [("baseline", 0, 30, (0, 0, 0, 4, 0))])
    html = signed_in.get(f"/clinic/patients/{patient.id}").text
    assert "whole score from pad item" in html


def test_the_patient_page_shows_the_wording_the_patient_saw(signed_in, published_case):
    html = signed_in.get(f"/clinic/patients/{published_case.id}").text
    timeline = cells(html, "timeline")
    assert "Provisional wording" in timeline[1][6]  # QoLAF-Q shipped wording
    assert "Unvalidated translation" in timeline[1][6]  # CCIS
    assert "Español" in timeline[1][6]
    assert "those totals are not validated scores" in html
    assert "provisional mapping" in html  # the QoLAF-Q subscales


def test_subscales_are_shown_as_the_definition_declares_them(signed_in, published_case):
    html = signed_in.get(f"/clinic/patients/{published_case.id}").text
    rows = cells(html, "table-subscales")
    # demo answers for 51: q1-q9 at 4, q10-q14 at 3 -> physical q1-q7 = 28, psychosocial 8+15 = 23.
    assert rows[1] == ["baseline", "28", "23"]


def test_a_missed_timepoint_appears_on_the_timeline(signed_in, missed_timepoint):
    html = signed_in.get(f"/clinic/patients/{missed_timepoint.id}").text
    timeline = cells(html, "timeline")
    assert [row[0] for row in timeline[1:]] == ["baseline", "3 weeks", "3 months"]
    assert timeline[2][2] == "Missed"
    assert timeline[2][4] == "" and timeline[2][5] == ""
    assert "Nothing new is flagged at the latest timepoint." in html


def test_the_worsened_patient_shows_both_flags_prominently(signed_in, worsened_continence):
    html = signed_in.get(f"/clinic/patients/{worsened_continence.id}").text
    new = re.search(r'<section aria-labelledby="new-heading".*?</section>', html, re.S).group(0)
    assert 'data-kind="ccis-worsened"' in new
    assert 'data-kind="qol-better-continence-worse"' in new
    assert "Bols EM, et al. Int Urogynecol J 2013;24(3):469-78" in new
    assert "extrapolated to worsening" in new
    assert "1 earlier flag" in new  # the band crossed at 3 months


def test_viewing_a_patient_is_audited(signed_in, published_case, clinician):
    signed_in.get(f"/clinic/patients/{published_case.id}")
    signed_in.get(f"/clinic/patients/{published_case.id}/summary")
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.subject_type == "patient").order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.user_id, e.subject_id, e.site_id) for e in events] == [
        ("patient.view", clinician.id, published_case.id, published_case.site_id),
        ("patient.summary", clinician.id, published_case.id, published_case.site_id),
    ]
    assert events[0].detail == {"responses": 8, "item_answers_shown": True}


def test_the_summary_is_one_printable_page(signed_in, published_case):
    page = signed_in.get(f"/clinic/patients/{published_case.id}/summary")
    html = page.text
    assert page.status_code == 200
    assert "clinic.css" in html
    assert html.count("<svg") == 2
    assert cells(html, "baseline-latest")[1][3] == "\u221223 (better)"
    assert "Earlier flags" in html and "<details" not in html  # everything visible on paper
    assert "Ferrer-Márquez M, et al. Cir Esp 2018;96:213-20." in html


def test_the_print_stylesheet_hides_navigation_and_fits_a4(client):
    css = client.get("/clinic/static/clinic.css").text
    print_rules = css[css.index("@media print") :]
    assert "@page { size: A4" in print_rules
    assert ".site-header" in print_rules and ".no-print" in print_rules


def test_the_list_and_pages_are_in_the_staff_members_language(signed_in, published_case):
    with signed_in.session_transaction() as session:
        session["locale"] = "es"
    html = signed_in.get(f"/clinic/patients/{published_case.id}").text
    assert "Impacto limitado" in html  # band labels come from the instrument definition


def test_the_lists_cells_are_worded_in_each_readers_language_in_turn(
    signed_in, published_case, worsened_continence
):
    """The list keeps its cells' HTML and its dates' texts once rendered
    (survey/clinic/list_cells.py, survey/date_text.py): each reader still gets their own
    language, whoever asked before."""

    def row(language: str, reference: str) -> str:
        page = signed_in.get("/clinic/", headers={"Accept-Language": language})
        found = re.search(rf'<tr data-patient="{reference}">(.*?)</tr>', page.text, re.S)
        return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())

    for _ in range(2):
        english, spanish = row("en", "CASE-51"), row("es", "CASE-51")
        assert "\u221223 (better)" in english and "Jul 17, 2026" in english
        assert "\u221223 (mejor)" in spanish and "17 jul 2026" in spanish
        assert "(better)" not in spanish and "Jul 17" not in spanish
        assert "CCIS worse than" in row("en", "CASE-WORSE")
        assert "CCIS peor que" in row("es", "CASE-WORSE")
