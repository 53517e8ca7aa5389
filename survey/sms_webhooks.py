"""Twilio's webhooks (message status, patients' replies) and the development outbox page.

Webhooks are exempt from CSRF and checked instead with the SDK's RequestValidator against the
address Twilio was given (SURVEY_PUBLIC_URL + path + query: `request.url` is wrong behind a
proxy). A missing or wrong signature gets 403 and changes nothing.

Each webhook is processed once. What it reports, as far as the signature covers it, is stored
in the same transaction as the change it caused (a status report: the message id and status;
a patient's text: its message id), so a retry, or a captured webhook posted again, finds it
and does nothing. The I-Twilio-Idempotency-Token header is not signed: anyone replaying a
captured webhook can set it to a fresh value, so it is stored as an extra key only, never as
the one that decides.
"""

import logging

from flask import Blueprint, Flask, abort, current_app, g, render_template, request
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from survey.auth import staff_required
from survey.domain import audit_trail
from survey.extensions import csrf, db
from survey.models import WebhookReceipt, utcnow
from survey.outreach import callbacks
from survey.outreach.backends import dev_outbox_enabled, outbox_path
from survey.outreach.backends.console import read_outbox
from survey.outreach.backends.twilio import provider_integer
from survey.phones import display
from survey.security.limits import REFUSED_WEBHOOKS, WEBHOOKS, limited
from survey.settings import settings

try:  # twilio >= 9.13 signs with Webhooks SharedKeys too
    from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, get_signature_algorithm
except ImportError:  # pragma: no cover
    SIGNATURE_SETTINGS_HEADER, get_signature_algorithm = None, None

logger = logging.getLogger("survey.outreach.webhooks")  # its name before the move: logs keep it
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


def make_blueprint(app: Flask) -> Blueprint:
    """The `outreach` blueprint; the outbox page exists only with the console backend in
    development (it shows working links)."""
    bp = Blueprint("outreach", __name__)
    bp.add_url_rule("/webhooks/twilio/status", view_func=status_callback, methods=["POST"])
    bp.add_url_rule("/webhooks/twilio/inbound", view_func=inbound, methods=["POST"])
    if dev_outbox_enabled(app.config, app.testing):
        bp.add_url_rule("/dev/outbox", view_func=dev_outbox)
    return bp


def signed_by_twilio() -> bool:
    """Whether the request carries a valid Twilio signature for our public address."""
    signing = request.headers.get(SIGNATURE_SETTINGS_HEADER) if SIGNATURE_SETTINGS_HEADER else None
    if signing:
        secret = settings().twilio_webhook_signing_key
        if not secret:
            logger.error(
                "A webhook was signed with a shared key, but "
                "SURVEY_TWILIO_WEBHOOK_SIGNING_KEY is not set."
            )
            return False
    else:
        secret = settings().twilio_auth_token
        if not secret:
            return False
    url = settings().public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(secret)
    if get_signature_algorithm is None:
        return not signing and validator.validate(url, request.form, signature)
    return validator.validate(url, request.form, signature, get_signature_algorithm(signing))


def first_time(signed_key: str) -> bool:
    """Store this webhook's receipts; False if it was processed before.

    `signed_key` is made of signed fields only, so no replay can change it. Twilio's
    idempotency token, when sent, is a second receipt: a retry that repeats it is caught even
    before its fields are compared."""
    keys = [signed_key[:160]]
    token = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if token and token.isprintable():
        keys.append(f"twilio:{token[:140]}")
    try:
        with db.session.begin_nested():
            db.session.add_all([WebhookReceipt(key=key) for key in keys])
    except IntegrityError:
        return False
    return True


@csrf.exempt
@limited(WEBHOOKS, REFUSED_WEBHOOKS)
def status_callback():
    """A message's status changed at Twilio."""
    if not signed_by_twilio():
        abort(403)
    sid = _field("MessageSid", 64)
    status = _field("MessageStatus", 32) or _field("SmsStatus", 32)
    error_code = provider_integer(request.form.get("ErrorCode"))
    if not sid or not status:
        return "", 204
    if first_time(f"status:{sid}:{status}"):
        callbacks.apply_status(
            db.session,
            sid=sid,
            provider_status=status,
            error_code=error_code,
            now=utcnow(),
            message_id=provider_integer(request.args.get("message")),
        )
    return _committed("", 204)


@csrf.exempt
@limited(WEBHOOKS, REFUSED_WEBHOOKS)
def inbound():
    """A patient texted the clinic's number: STOP, START, HELP, or anything else."""
    if not signed_by_twilio():
        abort(403)
    reply = MessagingResponse()
    # A WhatsApp message comes from "whatsapp:+34...": the number is what names the patient.
    sender = _field("From", 48).removeprefix("whatsapp:")[:32]
    sid = _field("MessageSid", 64)
    # Without its message id a text cannot be told from a replay of itself: Twilio always
    # sends one, so a text without it is left alone.
    if sender and sid and first_time(f"{callbacks.INBOUND_RECEIPT}{sid}"):
        result = callbacks.handle_inbound(
            db.session,
            from_number=sender,
            body=request.form.get("Body", ""),
            opt_out_type=request.form.get("OptOutType") or None,
            now=utcnow(),
        )
        if result.reply:
            reply.message(result.reply)
    return _committed(str(reply), 200, {"Content-Type": "text/xml; charset=utf-8"})


def _committed(body, status, headers=None):
    try:
        db.session.commit()
    except IntegrityError:  # the same webhook, processed at this moment by another worker
        db.session.rollback()
    return body, status, headers or {}


@staff_required()
def dev_outbox():
    """Development only: the texts the console backend would have sent, with working links."""
    path = outbox_path(current_app.config, current_app.instance_path)
    entries = read_outbox(path, g.user.site_ids)
    audit_trail.log("outbox.view", detail={"entries": len(entries)})
    db.session.commit()
    response = current_app.make_response(
        render_template("outreach/dev_outbox.html", entries=entries, display=display)
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _field(name: str, longest: int) -> str:
    """A posted identifier, or "" when it holds characters no Twilio identifier has
    (PostgreSQL refuses NUL in text outright, so it must never reach a query)."""
    value = request.form.get(name, "")[:longest]
    return value if value.isprintable() else ""
