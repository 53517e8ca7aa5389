"""Rate limits: guessing private links, passwords and codes, and flooding webhooks, is refused
with a translated 429 page; ordinary use never meets a limit, and a mistake costs a minute."""

import os
import socket
import time

import pytest
from flask import Flask
from sqlalchemy import select

from survey.extensions import db
from survey.models import AuditEvent
from survey.security import limits
from tests.conftest import PASSWORD, StaffActions, make_app
from tests.fixtures.patients import interface
from tests.fixtures.security import current_code, enrol_second_factor

UNKNOWN = "/s/" + "A" * 22  # well formed, never issued
SPANISH = {"Accept-Language": "es"}


def guess(client, n: int, **kwargs):
    return [client.get(f"/s/{n:022d}", **kwargs).status_code for n in range(n)]


def test_wrong_guesses_at_private_links_are_refused_after_ten(client):
    assert guess(client, 10) == [404] * 10
    refused = client.get(UNKNOWN, headers=SPANISH)
    assert refused.status_code == 429
    assert interface("es", "Too many attempts") in refused.text
    assert interface("es", "Please wait a minute, then try again.") in refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_patient_who_mistypes_their_link_then_gets_it_right_is_let_in(client, enrolled, invite):
    link = invite(enrolled)
    assert guess(client, 5) == [404] * 5
    assert client.get(link.path).status_code == 303


def test_at_the_limit_even_the_right_link_waits_but_only_briefly(schema, enrolled, invite, clock):
    link = invite(enrolled)
    client = make_app(schema, RATELIMIT_LINK_GUESSES="3 per 2 seconds").test_client()
    assert guess(client, 3) == [404] * 3
    assert client.get(link.path).status_code == 429  # a right guess now must look like a wrong one
    clock.advance(2.2)
    assert client.get(link.path).status_code == 303


def test_malformed_links_are_not_guesses_and_are_not_counted(client):
    for n in range(30):
        assert client.get(f"/s/not-a-token-{n}").status_code == 404
    assert client.get(UNKNOWN).status_code == 404


def test_one_address_guessing_does_not_lock_out_another(client, enrolled, invite):
    link = invite(enrolled)
    guess(client, 11, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert client.get(UNKNOWN, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 429
    assert client.get(link.path, environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 303


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(schema):
    client = make_app(schema, PROXY_COUNT=1).test_client()
    for n in range(10):
        client.get(f"/s/{n:022d}", headers={"X-Forwarded-For": "203.0.113.1"})
    assert client.get(UNKNOWN, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert client.get(UNKNOWN, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 404


# Staff sign-in.


def test_ten_failed_sign_ins_lock_the_account_even_against_the_right_password(
    staff, site, make_user
):
    user = make_user("clinician", [site])
    for _ in range(10):
        assert "not right" in staff.login(user.email, "wrong password!").text
    refused = staff.login(user.email)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login.rate_limited"))
    assert event is not None and event.remote_addr == "127.0.0.1"


def test_an_unknown_address_is_limited_exactly_like_a_known_one(staff, site, make_user):
    known = make_user("clinician", [site])
    answers = []
    for email in (known.email, "nobody@clinic.example"):
        answers.append([staff.login(email, "wrong password!").status_code for _ in range(11)])
    assert answers[0] == answers[1] == [200] * 10 + [429]


def test_locking_one_account_leaves_colleagues_at_the_same_address_alone(staff, site, make_user):
    target, colleague = make_user("clinician", [site]), make_user("clinician", [site])
    for _ in range(11):
        staff.login(target.email, "wrong password!")
    assert staff.login(colleague.email).status_code == 302


def test_one_address_trying_many_accounts_is_stopped(app, make_user, site):
    client = app.test_client()
    actions = StaffActions(client)
    statuses = [
        actions.login(f"user{n}@clinic.example", "wrong password!").status_code for n in range(31)
    ]
    assert statuses == [200] * 30 + [429]
    user = make_user("clinician", [site])
    assert actions.login(user.email).status_code == 429


def test_signing_in_successfully_is_never_counted(client, staff, site, make_user):
    user = make_user("clinician", [site])
    for _ in range(15):
        assert staff.login(user.email).status_code == 302
        staff.logout()


def test_the_sign_in_page_itself_stays_reachable_at_the_limit(staff, client, site, make_user):
    user = make_user("clinician", [site])
    for _ in range(11):
        staff.login(user.email, "wrong password!")
    assert client.get("/login").status_code == 200


def test_wrong_second_factor_codes_are_limited_per_account(client, staff, site, make_user):
    user = make_user("clinician", [site])
    secret = enrol_second_factor(user)
    staff.login(user.email)
    page = client.get("/login/code")
    from tests.conftest import csrf_from

    token = csrf_from(page.text)
    for _ in range(5):
        wrong = client.post("/login/code", data={"code": "000000", "csrf_token": token})
        assert wrong.status_code == 200
    right = client.post("/login/code", data={"code": current_code(secret), "csrf_token": token})
    assert right.status_code == 429


# Webhooks.


def test_a_flood_of_unsigned_webhooks_is_cut_off(client):
    statuses = [
        client.post("/webhooks/twilio/status", data={"MessageSid": "SM1"}).status_code
        for _ in range(31)
    ]
    assert statuses == [403] * 30 + [429]


def test_limits_are_only_put_on_views_that_exist():
    app = Flask("bare")
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    views = dict(app.view_functions)
    limits.init_app(app)  # no auth, patient or webhook views: nothing to wrap, no error
    assert app.extensions[limits.EXTENSION_KEY] is not None
    assert app.view_functions == views  # nothing was made up to carry a limit


def test_only_views_a_guard_names_look_their_limits_up(app):
    guarded = limits.limiter_of(app).guarded_endpoints
    assert {"patient.open_link", "auth.login", "outreach.status_callback"} <= guarded
    assert "patient.step" not in guarded and "clinic.index" not in guarded


def test_a_default_limit_in_the_settings_still_counts_on_every_view(schema):
    client = make_app(schema, RATELIMIT_DEFAULT="3 per minute").test_client()
    assert [client.get("/healthz").status_code for _ in range(4)] == [200] * 3 + [429]


# Settings and storage.


def test_limits_can_be_switched_off(schema):
    client = make_app(schema, RATELIMIT_ENABLED=False).test_client()
    assert set(guess(client, 15)) == {404}


def redis_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_available(), reason="no Redis server on 127.0.0.1:6379")
def test_web_nodes_sharing_redis_share_their_counts(schema):
    # Two apps stand for two web nodes; a random address keeps this run's keys apart.
    address = f"10.{os.getpid() % 250}.{int(time.time()) % 250}.{os.urandom(1)[0]}"
    settings = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15"}
    one, two = make_app(schema, **settings), make_app(schema, **settings)
    headers = {"environ_base": {"REMOTE_ADDR": address}}
    guess(one.test_client(), 5, **headers)
    guess(two.test_client(), 5, **headers)
    assert one.test_client().get(UNKNOWN, **headers).status_code == 429
    assert two.test_client().get(UNKNOWN, **headers).status_code == 429


def test_an_unreachable_redis_falls_back_to_counting_per_node(schema, enrolled, invite):
    link = invite(enrolled)
    app = make_app(schema, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    client = app.test_client()
    assert client.get(link.path).status_code == 303
    assert guess(client, 10) == [404] * 10
    assert client.get(UNKNOWN).status_code == 429


def test_staff_password_is_never_in_a_limit_key(app):
    with app.test_request_context("/login", method="POST", data={"email": "A@B.example"}):
        key = limits.login_account()
    assert "a@b.example" not in key.lower() and key.startswith("account:")
    assert PASSWORD not in key
