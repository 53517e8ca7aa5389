"""Export pages: choose what to export, download it (streamed, audited), read the dictionary."""

import csv
import io
import os
import tempfile
from datetime import date

from flask import Response, abort, current_app, g, render_template, request, stream_with_context
from flask_babel import get_locale
from flask_babel import gettext as _

from survey.auth import staff_required
from survey.clinic import (
    export_columns,
    export_dictionary,
    exports,
    exports_r,
    exports_redcap,
    exports_stats,
    fhir,
)
from survey.clinic.blueprint import bp
from survey.clinic.flags import meaningful_change, minimal_important_changes
from survey.domain import audit_trail
from survey.domain.wording_in_use import instruments_in_use
from survey.extensions import db
from survey.instruments import INSTRUMENT_IDS
from survey.models import User, utcnow
from survey.querystring import parse_whole_number
from survey.settings import settings
from survey.staff_areas import Area

CSV = "text/csv; charset=utf-8"
KINDS = {
    "long": (CSV, "csv"),
    "wide": (CSV, "csv"),
    "fhir": ("application/fhir+json; charset=utf-8", "json"),
    "redcap-dictionary": (CSV, "csv"),
    "redcap": (CSV, "csv"),
    "sav": ("application/x-spss-sav", "sav"),
    "dta": ("application/x-stata-dta", "dta"),
    "r": ("application/zip", "zip"),
}
# Files made for one program, which reads them as plain UTF-8: no "for spreadsheets" variant.
FOR_ONE_PROGRAM = {"redcap-dictionary", "redcap"}


@bp.route("/exports", endpoint="exports")  # the endpoint the navigation bar links to
@staff_required(Area.CLINICAL)
def export_form():
    """The export form: kind, site and date range."""
    return render_template("clinic/exports.html", errors={}, values={})


@bp.post("/exports/<kind>")
@staff_required(Area.CLINICAL)
def download(kind: str):
    """Stream one export of the user's sites; audited before the first byte and at the end."""
    if kind not in KINDS:
        abort(404)
    scope, errors = parse_scope(request.form)
    csv_for = request.form.get("csv_for") or "analysis"
    if csv_for not in exports.CSV_FOR:
        errors["csv_for"] = _("Choose what the CSV file is for.")
    if errors:
        return render_template("clinic/exports.html", errors=errors, values=request.form), 400
    detail = {"kind": kind, "scope": scope.as_detail(), "stage": "requested"}
    if KINDS[kind][1] == "csv" and kind not in FOR_ONE_PROGRAM:
        detail["csv_for"] = csv_for
    else:
        csv_for = "analysis"
    requested = audit_trail.log(f"export.{kind}", detail=detail)
    db.session.commit()
    now, counter = utcnow(), [0]
    mics = minimal_important_changes(meaningful_change(current_app.config))
    if kind == "r":
        chunks = _r_archive(scope, mics, counter)
    elif kind in exports_stats.FORMATS:
        chunks = _stats_file(kind, scope, now, mics, counter, requested.id)
        if chunks is None:
            errors["site"] = _(
                "This export is too large for one file (more than %(rows)d timepoints). "
                "Choose one site or a shorter date range.",
                rows=settings().export_stats_max_rows,
            )
            return render_template("clinic/exports.html", errors=errors, values=request.form), 400
    elif kind == "long":
        chunks = exports.write_csv(
            [c.name for c in export_columns.long_columns()],
            exports.long_rows(db.session, scope, mics),
            counter,
            bom=csv_for == "spreadsheet",
        )
    elif kind == "wide":
        chunks = exports.write_csv(
            [c.name for c in export_columns.wide_columns()],
            exports.wide_rows(db.session, scope, now, mics),
            counter,
            bom=csv_for == "spreadsheet",
        )
    elif kind == "fhir":
        chunks = fhir.bundle_chunks(
            db.session, scope, settings().fhir_base_url.rstrip("/"), now, counter
        )
    else:
        chunks = _redcap(kind, scope, now, counter)
    mimetype, extension = KINDS[kind]
    suffix = "-excel" if extension == "csv" and csv_for == "spreadsheet" else ""
    filename = f"survey-{kind}{suffix}-{now:%Y%m%d-%H%M%S}.{extension}"
    return Response(
        stream_with_context(_audited(kind, chunks, counter, requested.id, g.user.id)),
        mimetype=mimetype.split(";")[0],
        content_type=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _stats_file(kind: str, scope, now, mics, counter: list[int], requested_id: int):
    """Write the SPSS or Stata file to a temporary file, then hand it on in pieces; None when
    it would exceed EXPORT_STATS_MAX_ROWS (audited as an incomplete export)."""
    instruments = tuple(instruments_in_use(db.session, INSTRUMENT_IDS))
    handle, path = tempfile.mkstemp(suffix=f".{kind}")
    os.close(handle)
    try:
        counter[0] = exports_stats.write(
            kind,
            path,
            db.session,
            scope,
            now,
            instruments,
            str(get_locale()),
            mics,
            settings().export_stats_max_rows,
        )
        stream = open(path, "rb")  # noqa: SIM115 - closed by _file_chunks
    except exports_stats.StatsTooLarge:
        audit_trail.log(
            f"export.{kind}",
            detail={"kind": kind, "stage": "refused", "reason": "too large",
                    "request_event": requested_id},
        )  # fmt: skip
        db.session.commit()
        return None
    finally:
        os.unlink(path)  # an open file stays readable; nothing is left behind
    return _file_chunks(stream)


def _r_archive(scope, mics, counter: list[int]):
    """The R archive, written to a temporary file (row by row), then handed on in pieces."""
    instruments = tuple(instruments_in_use(db.session, INSTRUMENT_IDS))
    points = meaningful_change(current_app.config)
    handle, path = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    try:
        counter[0] = exports_r.write_zip(
            path,
            db.session,
            scope,
            instruments,
            str(get_locale()),
            {"long": export_columns.long_columns(ccis_points=points)},
            mics,
        )
        stream = open(path, "rb")  # noqa: SIM115 - closed by _file_chunks
    finally:
        os.unlink(path)
    return _file_chunks(stream)


def _file_chunks(stream):
    with stream:
        while chunk := stream.read(exports.FLUSH_AT):
            yield chunk


def _redcap(kind: str, scope: exports.ExportScope, now, counter: list[int]):
    instruments = tuple(instruments_in_use(db.session, INSTRUMENT_IDS))
    if kind == "redcap-dictionary":
        return exports.write_csv(
            exports_redcap.DICTIONARY_HEADER,
            exports_redcap.dictionary_rows(instruments, str(get_locale())),
            counter,
        )
    site_ids = {site.name: site.id for site in g.user.sites}
    return exports.write_csv(
        exports_redcap.data_header(instruments),
        exports_redcap.data_rows(db.session, scope, now, instruments, site_ids),
        counter,
    )


def _audited(kind: str, chunks, counter: list[int], requested_id: int, user_id: int):
    # The stream runs in a fresh application context, hence a fresh database session: the
    # view's objects (g.user) are detached here, so only ids cross over.
    complete = False
    try:
        yield from chunks
        complete = True
    except Exception:
        db.session.rollback()
        raise
    finally:
        # Also reached when the download is abandoned: the trail says how far it got.
        audit_trail.record(
            db.session,
            f"export.{kind}",
            user=db.session.get(User, user_id),
            detail={
                "kind": kind,
                "stage": "finished",
                "rows": counter[0],
                "complete": complete,
                "request_event": requested_id,
            },
            remote_addr=request.remote_addr,
        )
        db.session.commit()


def parse_scope(form) -> tuple[exports.ExportScope, dict[str, str]]:
    """The export's site and dates from the form, checked; errors by field name."""
    errors, sites = {}, g.user.site_ids
    site = form.get("site", "")
    if site:
        chosen = parse_whole_number(site)
        if chosen is None or chosen not in sites:
            errors["site"] = _("Choose one of your sites.")
        else:
            sites = [chosen]
    dates = {}
    for name in ("from", "to"):
        value = form.get(name, "").strip()
        if not value:
            dates[name] = None
            continue
        try:
            dates[name] = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            dates[name] = None
        if dates[name] is None:
            errors[name] = _("Enter a date as YYYY-MM-DD.")
    if dates.get("from") and dates.get("to") and dates["from"] > dates["to"]:
        errors["to"] = _("The end date is before the start date.")
    return exports.ExportScope(tuple(sites), dates.get("from"), dates.get("to")), errors


@bp.route("/exports/dictionary")
@staff_required(Area.CLINICAL)
def dictionary():
    """What every CSV column means; `?format=csv` downloads it as CSV (`&for=spreadsheet`:
    with a byte-order mark, for Excel)."""
    points = meaningful_change(current_app.config)
    tables = {
        "long": export_columns.long_columns(ccis_points=points),
        "wide": export_columns.wide_columns(ccis_points=points),
    }
    instruments = tuple(instruments_in_use(db.session, INSTRUMENT_IDS))
    if request.args.get("format") == "csv":
        buffer = io.StringIO()
        if request.args.get("for") == "spreadsheet":
            buffer.write(exports.BOM)
        writer = csv.writer(buffer)
        writer.writerow(export_dictionary.CSV_HEADER)
        writer.writerows(export_dictionary.csv_rows(tables, instruments))
        return Response(
            buffer.getvalue(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="survey-data-dictionary.csv"'},
        )
    details = {kind: export_dictionary.details(kind, instruments) for kind in tables}
    return render_template(
        "clinic/dictionary.html", tables=tables, details=details, lang=str(get_locale())
    )
