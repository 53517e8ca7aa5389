"""Tampered posts on patient pages: each gets a clear 4xx, nothing is stored, never a 500."""

from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from werkzeug.datastructures import MultiDict

from survey.extensions import db
from survey.models import DraftAnswer, InvitationStatus, Response
from tests.conftest import csrf_from
from tests.fixtures.patients import QOLAF_51, hostile_strings, interface, refreshed

HOSTILE = hostile_strings()
BAD_POST_MESSAGE = (
    "Nothing from this page was saved. Please go back, choose your answers and try again."
)


@pytest.fixture
def answering(patient, enrolled, invite):
    """A patient on the first questionnaire page of an open invitation."""
    link = invite(enrolled)
    patient.opens(link)
    patient.link = link
    return patient


def nothing_stored(link) -> bool:
    db.session.expire_all()
    drafts = db.session.scalar(select(func.count()).select_from(DraftAnswer))
    responses = db.session.scalar(select(func.count()).select_from(Response))
    return (
        drafts == 0
        and responses == 0
        and (refreshed(link.invitation).status == InvitationStatus.OPEN)
    )


def post(patient, fields, step: int = 1, with_csrf: bool = True):
    pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
    if with_csrf:
        pairs.append(("csrf_token", patient.csrf_token()))
    data = MultiDict([(key, str(value)) for key, value in pairs])
    return patient.client.post(f"/survey/{step}", data=data)


OUT_OF_RANGE = ["0", "6", "-1", "99999999999999999999", "9" * 5000]
NOT_AS_THE_PAGE_WRITES_IT = ["", " 3", "3 ", "03", "3.0", "+3", "٣", "３", "3\x00", "abc", "[3]"]
BAD_VALUES = OUT_OF_RANGE + NOT_AS_THE_PAGE_WRITES_IT
BAD_KEYS = ["q15", "q0", "Q1", "q1 ", "solid", "__proto__", "q1[]", "", "csrf", "action[]"]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_an_answer_that_is_not_on_the_scale_is_refused_and_nothing_is_saved(answering, value):
    response = post(answering, {**QOLAF_51, "q1": value})
    assert response.status_code == 400
    assert interface("es", BAD_POST_MESSAGE) in response.text
    assert nothing_stored(answering.link)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_an_answer_to_a_question_not_on_the_page_is_refused(answering, key):
    response = post(answering, {**QOLAF_51, key: "3"})
    assert response.status_code == 400
    assert nothing_stored(answering.link)


@pytest.mark.parametrize(
    "fields",
    [
        [("q1", "3"), ("q1", "4")],  # one question answered twice
        [("q1", "3"), ("action", "next"), ("action", "back")],
        [("q1", "3"), ("action", "submit")],
        [("q1", "3"), ("action", "")],
        [("q1", "3"), ("lang", "xx")],
        [("q1", "3"), ("lang", "")],
        [("q1", "3"), ("lang", "ES")],
    ],
)
def test_a_post_our_page_could_not_have_sent_is_refused(answering, fields):
    assert post(answering, fields).status_code == 400
    assert nothing_stored(answering.link)


@pytest.mark.parametrize(
    "field, valid",
    [
        ("answer", {"1", "2", "3", "4", "5"}),
        ("question", {*QOLAF_51, "csrf_token", "action", "lang"}),
        ("action", {"next", "back", "save"}),
        ("lang", {"en", "es", "tr"}),
    ],
)
def test_no_hostile_string_in_any_field_stores_anything(answering, field, valid):
    # The list holds a few ordinary strings too, like "1": those are not tampering.
    for text in (text for text in HOSTILE if text not in valid):
        if field == "answer":
            fields = {**QOLAF_51, "q1": text}
        elif field == "question":
            fields = {**QOLAF_51, text: "3"}
        else:
            fields = {**QOLAF_51, field: text}
        response = post(answering, fields)
        assert response.status_code == 400, (text, response.status_code)
    assert nothing_stored(answering.link)


def test_a_huge_post_is_refused_before_it_is_read(answering):
    response = post(answering, {**QOLAF_51, "q1": "3" * 100_000})
    assert response.status_code == 413
    assert nothing_stored(answering.link)


def test_a_post_of_many_fields_is_refused(answering):
    response = post(answering, [(f"q{n}", "3") for n in range(20_000)])
    assert response.status_code == 413
    assert nothing_stored(answering.link)


def test_a_file_upload_is_not_an_answer(answering):
    response = answering.client.post(
        "/survey/1",
        data={**QOLAF_51, "csrf_token": answering.csrf_token(), "q2": (BytesIO(b"3"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert nothing_stored(answering.link)


@pytest.mark.parametrize("token", [None, "", "not-a-token", "A" * 5000])
def test_a_post_without_a_valid_csrf_token_is_refused(answering, token):
    fields = dict(QOLAF_51) if token is None else {**QOLAF_51, "csrf_token": token}
    response = post(answering, fields, with_csrf=False)
    assert response.status_code == 400
    assert interface("es", "This page has expired") in response.text
    assert nothing_stored(answering.link)


def test_a_csrf_token_from_another_browser_is_refused(answering, app):
    stranger = app.test_client()
    stranger.get(answering.link.path)
    their_token = csrf_from(stranger.get("/survey/1").text)
    assert (
        post(answering, {**QOLAF_51, "csrf_token": their_token}, with_csrf=False).status_code == 400
    )
    assert nothing_stored(answering.link)


def test_a_json_post_is_refused(answering):
    response = answering.client.post("/survey/1", json=QOLAF_51)
    assert response.status_code == 400
    assert nothing_stored(answering.link)


@pytest.mark.parametrize(
    "path",
    [
        "/survey/0",
        "/survey/3",
        "/survey/99999999999999999999",
        "/survey/-1",
        "/survey/one",
        "/survey/1/extra",
    ],
)
def test_a_page_that_does_not_exist_is_a_404(answering, path):
    assert answering.client.get(path).status_code == 404
    response = answering.client.post(path, data={**QOLAF_51, "csrf_token": answering.csrf_token()})
    assert response.status_code in (404, 405)
    assert nothing_stored(answering.link)


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_not_allowed(answering, method):
    response = getattr(answering.client, method)("/survey/1", data=QOLAF_51)
    assert response.status_code == 405
    assert nothing_stored(answering.link)


def test_a_post_without_a_session_stores_nothing(client, enrolled, invite):
    link = invite(enrolled)
    response = client.post("/survey/1", data=QOLAF_51)
    assert response.status_code in (400, 403)
    assert nothing_stored(link)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(["q1", "q2", "action", "lang", "x"]) | st.text(max_size=12),
            st.text(max_size=12) | st.integers().map(str),
        ),
        max_size=6,
    )
)
def test_whatever_is_posted_the_answer_is_a_clear_status_and_never_a_500(answering, fields):
    response = post(answering, fields)
    assert response.status_code in (204, 303, 400, 422)
    if response.status_code == 400:
        assert nothing_stored(answering.link)
    db.session.execute(delete(DraftAnswer))
    db.session.commit()
