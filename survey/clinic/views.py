"""Clinic pages: thin. Figures come from listing.py and results.py; charts from charts.py."""

from flask import abort, current_app, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from survey.auth import staff_required
from survey.clinic import charts, followup, labels, list_cells
from survey.clinic.access import patient_for
from survey.clinic.blueprint import bp
from survey.clinic.filters import SORTS, parse_filters
from survey.clinic.flag_texts import (
    MEANINGFUL_CHANGE_CITATION,
    citation,
    describe,
    reference_text,
)
from survey.clinic.flags import meaningful_change
from survey.clinic.listing import patient_page
from survey.clinic.results import change_text, patient_course, signed
from survey.date_text import local_day
from survey.domain import audit_trail
from survey.domain.episodes import episode_name
from survey.domain.languages import SOURCE_LANGUAGE, interface_languages
from survey.domain.wording_in_use import instruments_in_use
from survey.extensions import db
from survey.instruments import (
    CCIS,
    INSTRUMENT_IDS,
    QOLAF,
    Instrument,
    all_instruments,
    get_instrument,
)
from survey.models import utcnow
from survey.settings import settings


@bp.context_processor
def clinic_helpers() -> dict:
    """Formatting helpers the clinic templates share."""
    return {
        "change_text": change_text,
        "episode_name": episode_name,
        "reference_text": reference_text,
        "signed": signed,
        "describe_flag": lambda flag: describe(flag, _lang()),
        "flag_citation": citation,
        "patient_date": local_day,  # the day where the patient lives, the reader's way
        "labels": labels,
        "lang": _lang(),
        "get_instrument": get_instrument,
        "meaningful_change_citation": MEANINGFUL_CHANGE_CITATION,
        "short_name": charts.short_name,
        "totals_caption": totals_caption,
    }


@bp.route("/")
@staff_required()
def index():
    """The patients of the user's sites: latest scores, change, follow-up; filtered, paged."""
    config, now = current_app.config, utcnow()
    filters = parse_filters(request.args, g.user, interface_languages())
    page = patient_page(
        db.session,
        g.user,
        filters,
        now=now,
        threshold=meaningful_change(config),
        grace=followup.grace_period(config),
        page_size=settings().clinic_page_size,
    )
    audit_trail.log("patients.list", detail={"filters": filters.as_args(), "rows": len(page.rows)})
    html = render_template(
        "clinic/index.html",
        page=page,
        filters=filters,
        sorts=SORTS,
        qolaf=get_instrument(QOLAF),
        ccis=get_instrument(CCIS),
        threshold=meaningful_change(config),
        grace_days=followup.grace_period(config).days,
        now=now,
        cells=list_cells.ListCells(str(get_locale()), _lang()),
    )
    # Committed after rendering, still before the page leaves (no audit row, no page): a
    # commit first expired the user and their sites, which the page then read again (two
    # statements).
    db.session.commit()
    return html


@bp.route("/patients/<int:patient_id>")
@staff_required()
def patient(patient_id: int):
    """One patient's course: flags, baseline and latest, charts with tables, every answer."""
    return _patient_view(patient_id, "clinic/patient.html", "patient.view")


@bp.route("/patients/<int:patient_id>/summary")
@staff_required()
def summary(patient_id: int):
    """A one-page summary of one patient for printing (e.g. into a case report)."""
    return _patient_view(patient_id, "clinic/summary.html", "patient.summary")


def _patient_view(patient_id: int, template: str, action: str):
    found = patient_for(db.session, g.user, patient_id)
    if found is None:
        abort(404)
    config = current_app.config
    course = patient_course(
        db.session,
        found,
        threshold=meaningful_change(config),
        now=utcnow(),
        grace=followup.grace_period(config),
    )
    audit_trail.log(
        action,
        subject=found,
        detail={
            "responses": sum(len(c.results) for c in course.instruments.values()),
            "item_answers_shown": action == "patient.view",
        },
    )
    db.session.commit()
    return render_template(
        template,
        patient=found,
        course=course,
        charts={
            instrument_id: charts.course_chart(
                instrument_course, course.origin_is_index_date, _lang(), f"chart-{instrument_id}"
            )
            for instrument_id, instrument_course in course.instruments.items()
        },
        instruments=all_instruments(),
        in_use=dict(
            zip(INSTRUMENT_IDS, instruments_in_use(db.session, INSTRUMENT_IDS), strict=True)
        ),
        printed_at=utcnow(),
        summary_page=action == "patient.summary",
    )


def totals_caption(instrument: Instrument) -> str:
    """The caption of an instrument's totals table, with its range and declared direction."""
    names = {
        "name": charts.short_name(instrument),
        "low": instrument.min_total,
        "high": instrument.max_total,
    }
    if instrument.higher_is_worse:
        return _("%(name)s totals (%(low)d–%(high)d, higher is worse)", **names)
    return _("%(name)s totals (%(low)d–%(high)d, higher is better)", **names)


def _lang() -> str:
    """The staff member's interface language, for instrument texts (which have their own). A
    language staff may use before every questionnaire has wording in it shows questionnaire
    names in the source language rather than failing."""
    lang = str(get_locale() or settings().default_language)
    if any(lang not in instrument.languages for instrument in all_instruments()):
        return SOURCE_LANGUAGE
    return lang
