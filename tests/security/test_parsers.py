"""Property-based tests (hypothesis) of the code that reads what clients send: questionnaire
posts, the sign-in redirect, second-factor codes, and Twilio's webhooks, signed or not."""

from datetime import timedelta
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from survey.auth.views import _is_local
from survey.domain import totp
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import (
    AuditEvent,
    Invitation,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    Patient,
    utcnow,
)
from survey.outreach import callbacks
from survey.patient.forms import ACTIONS, BadPost, parse_page
from survey.security.limits import limiter_of

LANGUAGES = ("en", "es", "tr")
FIXTURES = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Text as hostile as hypothesis makes it, plus the characters that matter most here.
texts = st.text(max_size=40) | st.sampled_from(
    ["", "\x00", "\u202e", "3", " 3", "٣", "next", "save", "lang", "q1", "csrf_token", "STOP"]
)


# Questionnaire posts.


@given(st.lists(st.tuples(texts, texts), max_size=12), st.sampled_from(["qolaf-q", "ccis"]))
def test_a_questionnaire_post_is_read_whole_or_refused_whole(pairs, instrument_id):
    instrument = get_instrument(instrument_id)
    scale = {option.value for option in instrument.options}
    try:
        post = parse_page(MultiDict(pairs), instrument, LANGUAGES)
    except BadPost:
        return
    items = {item.id for item in instrument.items}
    assert set(post.answers) <= items
    assert all(value in scale for value in post.answers.values())
    assert post.action in (*ACTIONS, "language")
    # Everything that was sent is accounted for: no key was silently dropped.
    sent = {key for key, _ in pairs}
    assert sent <= items | {"csrf_token", "action", "lang"}


@given(st.data(), st.sampled_from(["qolaf-q", "ccis"]), st.sampled_from(ACTIONS))
def test_any_honest_page_post_is_read_exactly(data, instrument_id, action):
    instrument = get_instrument(instrument_id)
    chosen = data.draw(st.sets(st.sampled_from([item.id for item in instrument.items])))
    answers = {
        item_id: data.draw(st.sampled_from([option.value for option in instrument.options]))
        for item_id in chosen
    }
    form = MultiDict([(k, str(v)) for k, v in answers.items()] + [("action", action)])
    post = parse_page(form, instrument, LANGUAGES)
    assert post.answers == answers and post.action == action


# Where sign-in sends the browser afterwards.

BASE = "https://survey.example.org/clinic/"


def browser_resolves(target: str) -> str:
    """Where a browser goes: tabs and newlines dropped, backslashes read as slashes (WHATWG)."""
    cleaned = "".join(ch for ch in target if ch not in "\t\n\r").replace("\\", "/")
    return urlsplit(urljoin(BASE, cleaned.strip("\x00 "))).netloc


@given(st.text(max_size=30) | st.from_regex(r"\A[/\\\t\n ]{0,3}[a-z.:/@]{0,20}\Z"))
def test_the_page_after_sign_in_is_always_on_this_site(target):
    if _is_local(target):
        assert browser_resolves(target) == "survey.example.org", target


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/\\evil.example", "//evil.example", "/\n/evil.example"]
)
def test_tricks_browsers_fall_for_are_refused(target):
    assert not _is_local(target)


# Second-factor codes.


@given(st.text(max_size=20))
def test_a_typed_code_is_six_ascii_digits_or_nothing(typed):
    code = totp.normalised(typed)
    assert code is None or (len(code) == 6 and code.isascii() and code.isdigit())


@given(st.text(max_size=12))
def test_no_text_but_the_current_code_is_accepted(typed):
    secret, now = totp.new_secret(), utcnow()
    nearby = {totp.code_for(secret, now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    assume(totp.normalised(typed) not in nearby)
    assert totp.accepted_step(secret, typed, None, now) is None


# Twilio webhooks: what the handlers do with anything a sender could put in a report.


@pytest.fixture
def someone(site, make_patient):
    return make_patient(site, reference="HOOK-1", phone="+34612345678")


@FIXTURES
@given(body=st.text(max_size=200), opt_out=st.none() | texts, sender=texts)
def test_an_inbound_text_never_fails_and_its_words_are_never_stored(
    app, someone, body, opt_out, sender
):
    sender = sender if sender.strip() else "+34612345678"
    result = callbacks.handle_inbound(
        db.session, from_number=sender, body=body, opt_out_type=opt_out, now=utcnow()
    )
    db.session.commit()
    assert result.reply is None or isinstance(result.reply, str)
    if len(body.strip()) >= 12:  # long enough not to be a keyword or a stored word by chance
        for event in db.session.scalars(select(AuditEvent)):
            assert body.strip() not in str(event.detail)
        assert body.strip() not in (db.session.get(Patient, someone.id).reference or "")


# Messages at statuses a report could move, with the provider ids reports name.
SENT_SIDS = {f"SM{n:032d}": status for n, status in enumerate(("queued", "sent", "delivered"))}


@pytest.fixture
def sent_messages(someone, invite):
    invite(someone)
    invitation = db.session.scalars(select(Invitation)).one()
    now = utcnow()
    for sid, status in SENT_SIDS.items():
        db.session.add(
            Message(
                patient_id=someone.id,
                invitation_id=invitation.id,
                kind=MessageKind.INVITATION,
                status=MessageStatus(status),
                due_at=now,
                claimed_at=now,
                sent_at=now,
                attempts=1,
                provider_sid=sid,
            )
        )
    db.session.commit()


@FIXTURES
@given(
    sid=texts | st.sampled_from(list(SENT_SIDS)),
    status=texts | st.sampled_from(list(callbacks.PROVIDER_STATUS)),
    error_code=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    message_id=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_a_status_report_never_fails_and_never_moves_a_message_back(
    app, sent_messages, sid, status, error_code, message_id
):
    before = {m.id: callbacks.RANK[m.status] for m in db.session.scalars(select(Message))}
    callbacks.apply_status(
        db.session,
        sid=sid,
        provider_status=status,
        error_code=error_code,
        now=utcnow(),
        message_id=message_id,
    )
    db.session.commit()
    messages = db.session.scalars(select(Message)).all()
    assert len(messages) == len(SENT_SIDS)
    for message in messages:
        assert callbacks.RANK[message.status] >= before.get(message.id, 0)


TOKEN = "property-test-auth-token"


@FIXTURES
@given(
    path=st.sampled_from(["/webhooks/twilio/status", "/webhooks/twilio/inbound"]),
    form=st.dictionaries(
        st.sampled_from(
            [
                "MessageSid",
                "MessageStatus",
                "SmsStatus",
                "ErrorCode",
                "From",
                "Body",
                "OptOutType",
                "To",
                "AccountSid",
            ]
        )
        | st.text(min_size=1, max_size=10),
        texts,
        max_size=8,
    ),
    query=st.none() | texts,
)
def test_a_signed_webhook_with_any_content_gets_a_clear_answer(app, path, form, query):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    # Thousands of posts from one address: not what is tested (the app fixture switches the
    # limits back on after the test).
    limiter_of(app).enabled = False
    query_string = urlencode({"message": query}) if query is not None else ""
    url = app.config["PUBLIC_URL"] + path + (f"?{query_string}" if query_string else "")
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    response = app.test_client().post(
        path, query_string=query_string, data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code in (200, 204), response.status_code
    assert db.session.scalar(select(func.count()).select_from(MessageEvent)) == 0


def test_a_signed_status_report_for_an_impossible_message_id_is_never_a_server_error(app):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    path = "/webhooks/twilio/status?message=99999999999999"
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    signature = RequestValidator(TOKEN).compute_signature(app.config["PUBLIC_URL"] + path, form)
    response = app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204


@pytest.mark.parametrize("field", ["From", "MessageSid", "Body"])
def test_a_signed_webhook_with_a_nul_character_is_never_a_server_error(app, field):
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    path = "/webhooks/twilio/inbound"
    form = {"From": "+34612345678", "MessageSid": "SM" + "0" * 32, "Body": "hola", field: "a\x00b"}
    signature = RequestValidator(TOKEN).compute_signature(app.config["PUBLIC_URL"] + path, form)
    response = app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
