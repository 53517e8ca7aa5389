"""Enrolling a theatre list from a CSV: every row's problems per field before anything is
enrolled, the good rows enrolled in one transaction, the same list twice enrolling nobody
twice, and hostile text in any cell shown as text."""

import io
import json

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import AuditEvent, Invitation, Patient
from survey.outreach import bulk_enrolment
from tests.conftest import csrf_from
from tests.fixtures.patients import BLNS_PATH

HOSTILE = [text for text in json.loads(BLNS_PATH.read_text(encoding="utf-8")) if text]
URL = "/clinic/follow-up/enrol/list"
HEADER = "reference,mobile,language,index_date,schedule\n"
GOOD = "T-001,+34612345678,es,2026-12-20,\nT-002,+34 612 345 679,tr,2026-12-21,\n"


@pytest.fixture
def coordinator(client, staff, site, make_user):
    user = make_user("coordinator", [site])
    staff.login(user.email)
    return user


def upload(client, text: str | bytes, filename="theatre.csv"):
    page = client.get(URL)
    body = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(
        URL,
        data={
            "csrf_token": csrf_from(page.text),
            "action": "preview",
            "list": (io.BytesIO(body), filename),
        },
        content_type="multipart/form-data",
    )


def confirm(client, text: str):
    page = client.get(URL)
    return client.post(
        URL, data={"csrf_token": csrf_from(page.text), "action": "enrol", "data": text}
    )


def patients() -> int:
    return db.session.scalar(select(func.count()).select_from(Patient))


def test_the_preview_lists_each_problem_on_its_field_and_enrols_nothing(client, coordinator):
    text = (
        HEADER
        + GOOD
        + (
            "T-003,12345,fr,14/03/2026,No such schedule\n"  # four problems on one line
            "T-001,+34612345670,es,2026-12-22,\n"  # the same reference as line 2
            ",+34612345671,es,2026-12-22,\n"
        )
    )
    page = upload(client, text)
    assert page.status_code == 200
    html = page.text
    assert "2 patients can be enrolled." in html
    assert "3 lines have problems" in html
    assert "is not a language patients can answer in" in html
    assert "Write the date as year-month-day" in html
    assert "There is no schedule offered for enrolments with this name." in html
    assert "The same reference is on line 2." in html
    assert patients() == 0
    assert db.session.scalar(
        select(func.count()).where(AuditEvent.action == "patients.list_preview")
    )


def test_confirming_enrols_the_good_rows_with_their_invitations_and_a_second_upload_skips_them(
    client, coordinator
):
    text = HEADER + GOOD + "T-009,not a number,es,2026-12-20,\n"
    done = confirm(client, text)
    assert done.status_code == 302
    assert patients() == 2
    assert db.session.scalar(select(func.count()).select_from(Invitation)) > 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patients.list_enrol"))
    assert len(event.detail["enrolled"]) == 2 and event.detail["refused"] == 1

    again = upload(client, text)
    assert "2 are already enrolled with these details and are skipped." in again.text
    assert "Enrol 0" not in again.text
    confirm(client, text)
    assert patients() == 2


def test_a_reference_enrolled_with_other_details_is_a_problem_not_a_change(client, coordinator):
    confirm(client, HEADER + GOOD)
    page = upload(client, HEADER + "T-001,+34699999999,es,2026-12-20,\n")
    assert "already has a patient with this reference, with other details" in page.text
    assert db.session.scalar(select(Patient.phone).where(Patient.reference == "T-001")) == (
        "+34612345678"
    )


def test_the_good_rows_are_enrolled_in_one_transaction(
    needs_postgresql, client, coordinator, monkeypatch
):
    # PostgreSQL: SQLite's Python driver commits when a savepoint opened outside a transaction
    # is released (each enrolment takes one), which is not how the service's database behaves.
    real = bulk_enrolment.enrol
    calls = []

    def failing_second(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 2:
            raise bulk_enrolment.EnrolmentError("the database refused it")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_enrolment, "enrol", failing_second)
    refused = confirm(client, HEADER + GOOD)
    assert refused.status_code == 422
    assert "the database refused it" in refused.text
    assert calls == ["T-001", "T-002"]
    db.session.expire_all()
    assert patients() == 0  # the first row went back with the second


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "Choose the CSV file"),
        (b"\xff\xfe\x00r\x00e", "not UTF-8"),
        (b"name,phone\nA,B\n", "Missing: reference, mobile, language, index_date"),
        (HEADER.encode(), "The list has no patients."),
        (b"x" * (bulk_enrolment.MAX_BYTES + 1), "larger than"),
        (
            (HEADER + "T-1,+34612345678,es,2026-12-20,\n" * (bulk_enrolment.MAX_ROWS + 1)).encode(),
            "more than",
        ),
        ((HEADER + 'T-1,"+346\n').encode(), "could not be read as CSV"),
    ],
)
def test_a_file_that_is_not_a_list_is_refused_with_a_reason(client, coordinator, body, message):
    page = upload(client, body)
    assert page.status_code == 422
    assert message in page.text
    assert patients() == 0


def test_hostile_strings_in_every_cell_are_shown_as_text_and_never_enrolled(client, coordinator):
    lines = []
    for text in HOSTILE:
        cell = '"' + text.replace('"', '""') + '"'
        lines.append(",".join([cell, cell, cell, cell, cell]))
    shown = 0
    for start in range(0, len(lines), bulk_enrolment.MAX_ROWS):
        body = HEADER + "\n".join(lines[start : start + bulk_enrolment.MAX_ROWS]) + "\n"
        page = upload(client, body)
        assert page.status_code in (200, 422), page.status_code
        assert "<script>alert(" not in page.text
        shown += page.status_code == 200
        confirm(client, body)
    assert shown > 0
    assert patients() == 0


def test_a_coordinator_without_the_site_cannot_enrol_into_it(
    client, staff, site, other_site, make_user
):
    outsider = make_user("coordinator", [other_site])
    staff.login(outsider.email)
    page = client.get(URL)
    client.post(
        URL,
        data={
            "csrf_token": csrf_from(page.text),
            "action": "enrol",
            "site_id": site.id,
            "data": HEADER + GOOD,
        },
    )
    assert db.session.scalar(select(func.count()).where(Patient.site_id == site.id)) == 0


def test_a_list_may_write_numbers_the_way_the_sites_country_does(client, coordinator, site):
    site.country = "ES"
    db.session.commit()
    body = HEADER + "N-001,612 345 678,es,2026-12-20,\nN-002,950 123 456,es,2026-12-20,\n"
    page = upload(client, body)
    assert page.status_code == 200
    assert "not a mobile number" in page.text  # the landline, on its row
    confirm(client, body)
    assert db.session.scalars(select(Patient.phone)).all() == ["+34612345678"]
