"""Enrolling a theatre list at once: a CSV of patients is checked row by row and field by
field, shown to the coordinator with every problem, and its good rows enrolled together.

Plain functions: `check_list` reads and checks without changing anything; `enrol_list`
enrols the rows that passed in the caller's transaction (the view commits once, or rolls
everything back). A row whose reference is already enrolled with the same details is
skipped, so uploading the same list twice enrols nobody twice."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.domain.enrolment import (
    EnrolmentError,
    check_index_date,
    check_language,
    check_reference,
)
from survey.models import Patient, Schedule, Site
from survey.outreach.invitation_messages import ScheduleChanges
from survey.outreach.patient_schedule import enrol, is_enrolled_as
from survey.outreach.policy import SendingRules
from survey.phones import InvalidPhoneNumber, normalise_mobile

COLUMNS = ("reference", "mobile", "language", "index_date", "schedule")
REQUIRED = ("reference", "mobile", "language", "index_date")
# A theatre list is tens of rows; anything far larger is not one.
MAX_BYTES = 200 * 1024
MAX_ROWS = 500
MAX_CELL = 200


class ListRefused(ValueError):
    """The file as a whole cannot be read as a list; the message says why in plain words."""


@dataclass
class Row:
    """One line of the list, with what is wrong with each field (field name -> message)."""

    line: int  # as a spreadsheet numbers it: the header is line 1
    cells: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)
    reference: str = ""
    phone: str | None = None
    language: str = ""
    index_date: date | None = None
    schedule: Schedule | None = None
    already_enrolled: bool = False

    @property
    def ready(self) -> bool:
        return not self.problems and not self.already_enrolled


def read_list(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows of an uploaded CSV (line number, known columns); ListRefused for a file that
    is too large, not UTF-8 text, or without the columns."""
    if len(data) > MAX_BYTES:
        raise ListRefused(
            _l("The file is larger than %(size)d KB. Split the list.", size=MAX_BYTES // 1024)
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ListRefused(_l("The file is not UTF-8 text. Save it as CSV UTF-8.")) from None
    if "\x00" in text:
        raise ListRefused(_l("The file is not a CSV file."))
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        header = next(reader, None)
        if header is None:
            raise ListRefused(_l("The file is empty."))
        names = [name.strip().lower().replace(" ", "_") for name in header]
        absent = [column for column in REQUIRED if column not in names]
        if absent:
            raise ListRefused(
                _l(
                    "The first line must name the columns. Missing: %(columns)s.",
                    columns=", ".join(absent),
                )
            )
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue  # blank lines between groups of a list
            if len(rows) >= MAX_ROWS:
                raise ListRefused(
                    _l("The list has more than %(rows)d patients. Split it.", rows=MAX_ROWS)
                )
            rows.append(
                (
                    reader.line_num,
                    {
                        name: value
                        for name, value in zip(names, values, strict=False)
                        if name in COLUMNS
                    },
                )
            )
    except csv.Error:
        raise ListRefused(
            _l("The file could not be read as CSV (line %(line)d).", line=reader.line_num)
        ) from None
    if not rows:
        raise ListRefused(_l("The list has no patients."))
    return rows


def check_list(
    db: Session, site: Site, data: bytes, schedules: list[Schedule], default: Schedule | None
) -> list[Row]:
    """Every row of the list with its problems; nothing is changed."""
    by_name = {schedule.name.casefold(): schedule for schedule in schedules}
    rows = [Row(line, cells) for line, cells in read_list(data)]
    seen: dict[str, int] = {}
    for row in rows:
        _check_row(row, by_name, default, site.country)
        if "reference" not in row.problems:
            key = row.reference.casefold()
            if key in seen:
                row.problems["reference"] = str(
                    _l("The same reference is on line %(line)d.", line=seen[key])
                )
            else:
                seen[key] = row.line
    references = [row.reference for row in rows if "reference" not in row.problems]
    existing = {
        patient.reference: patient
        for patient in db.scalars(
            select(Patient).where(Patient.site_id == site.id, Patient.reference.in_(references))
        )
    }
    for row in rows:
        patient = existing.get(row.reference)
        if patient is None or "reference" in row.problems:
            continue
        if not row.problems and is_enrolled_as(
            patient,
            phone=row.phone,
            language=row.language,
            timezone=None,
            index_date=row.index_date,
            schedule=row.schedule,
        ):
            row.already_enrolled = True
        else:
            row.problems["reference"] = str(
                _l(
                    "%(site)s already has a patient with this reference, with other details. "
                    "Change them on their page.",
                    site=site.name,
                )
            )
    return rows


def _check_row(
    row: Row, schedules: dict[str, Schedule], default: Schedule | None, region: str | None
) -> None:
    """`region`: the site's country, in which a number written the national way is read."""
    cells = {name: (row.cells.get(name) or "").strip() for name in COLUMNS}
    for name, value in cells.items():
        if len(value) > MAX_CELL:
            row.problems[name] = str(_l("Too long (at most %(num)d characters).", num=MAX_CELL))
    if "reference" not in row.problems:
        try:
            row.reference = check_reference(cells["reference"])
        except EnrolmentError as error:
            row.problems["reference"] = str(error)
    if "mobile" not in row.problems:
        if not cells["mobile"]:
            row.problems["mobile"] = str(_l("A mobile number is required to send invitations."))
        else:
            try:
                row.phone = normalise_mobile(cells["mobile"], region)
            except InvalidPhoneNumber as error:
                row.problems["mobile"] = str(error.args[0])
    if "language" not in row.problems:
        try:
            row.language = check_language(cells["language"].lower())
        except EnrolmentError as error:
            row.problems["language"] = str(error)
    if "index_date" not in row.problems:
        try:
            row.index_date = check_index_date(date.fromisoformat(cells["index_date"]))
        except ValueError as error:
            row.problems["index_date"] = (
                str(error)
                if isinstance(error, EnrolmentError)
                else str(_l("Write the date as year-month-day, e.g. 2026-03-14."))
            )
    if "schedule" not in row.problems:
        if not cells["schedule"]:
            row.schedule = default
            if default is None:
                row.problems["schedule"] = str(_l("Name the follow-up schedule."))
        else:
            row.schedule = schedules.get(cells["schedule"].casefold())
            if row.schedule is None:
                row.problems["schedule"] = str(
                    _l("There is no schedule offered for enrolments with this name.")
                )


def enrol_list(
    db: Session, site: Site, rows: list[Row], now: datetime, rules: SendingRules
) -> list[tuple[Patient, ScheduleChanges]]:
    """Enrol every ready row in the caller's transaction; EnrolmentError (the caller rolls
    back everything) if any cannot be enrolled after all."""
    enrolled = []
    for row in rows:
        if row.ready:
            enrolled.append(
                enrol(
                    db,
                    site,
                    row.reference,
                    row.phone,
                    row.language,
                    None,
                    row.index_date,
                    row.schedule,
                    now,
                    rules,
                )
            )
    return enrolled
