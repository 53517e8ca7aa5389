"""Plain words for coordinators: message statuses, why a message waits, and what each
provider error means and what to do about it."""

from survey.models import MessageStatus
from survey.translatable import lazy_gettext as _l

STATUS = {
    MessageStatus.PENDING: _l("Scheduled"),
    MessageStatus.SENDING: _l("Sending"),
    MessageStatus.QUEUED: _l("Accepted by the SMS service"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.DELIVERED: _l("Delivered"),
    MessageStatus.UNDELIVERED: _l("Not delivered"),
    MessageStatus.FAILED: _l("Failed"),
    MessageStatus.REVIEW: _l("Unknown: check"),
    MessageStatus.CANCELLED: _l("Not sent"),
}

KIND = {"invitation": _l("Invitation"), "reminder": _l("Reminder")}

WAIT = {
    "quiet_hours": _l("Waiting for the end of quiet hours in the patient's time zone."),
    "daily_limit": _l("Waiting: the patient already had a message today."),
    "weekly_limit": _l("Waiting: the patient already had the most messages allowed this week."),
    "waiting_for_invitation": _l("Waiting until the invitation itself has been sent."),
    "phone_daily_limit": _l(
        "Waiting: this mobile number, shared with another patient, already had a message today."
    ),
    "phone_weekly_limit": _l(
        "Waiting: this mobile number, shared with another patient, already had the most "
        "messages allowed this week."
    ),
    "channel_paused": _l(
        "Waiting: sending is paused for this site until an administrator resumes it."
    ),
}

# Why a message was cancelled, failed, or needs review (our own words for our own reasons).
REASON = {
    "completed": _l("Not needed: the patient answered."),
    "expired": _l("Not sent: the timepoint closed first."),
    "invitation_cancelled": _l("Not needed: the timepoint was cancelled."),
    "window_closed": _l("Not sent: the new dates put this timepoint in the past."),
    "schedule_changed": _l("Not needed: the patient's schedule changed."),
    "withdrawn": _l("Not sent: the patient withdrew from follow-up."),
    "new_episode": _l("Not sent: a coordinator started a new episode of care."),
    "cancelled_by_staff": _l("Cancelled by a coordinator."),
    "cancelled_with_invitation": _l("Not sent: a coordinator cancelled the invitation."),
    "no_number": _l("The patient has no mobile number. Add one, then retry."),
    "gave_up": _l(
        "The SMS service kept failing, so sending stopped after several tries. Retry later."
    ),
    "rate_limited": _l("The SMS service asked us to slow down; it will be retried."),
    "provider_error": _l("The SMS service had a problem; it will be retried."),
    "no_connection": _l("The SMS service could not be reached; it will be retried."),
    "credentials": _l(
        "The SMS service refused the clinic's account details. An administrator "
        "must check the Twilio settings."
    ),
    "no_answer": _l(
        "The SMS service did not answer in time, so we cannot tell whether the "
        "message went. Check with the patient before sending it again."
    ),
    "connection_lost": _l(
        "The connection broke while sending, so we cannot tell whether the "
        "message went. Check with the patient before sending it again."
    ),
    "unexpected_answer": _l(
        "The SMS service gave an answer we could not read, so we cannot "
        "tell whether the message went."
    ),
    "backend_error": _l(
        "Sending stopped with an internal error, so we cannot tell whether the message went."
    ),
    "dispatcher_stopped": _l(
        "Sending was interrupted, so we cannot tell whether the message "
        "went. Check with the patient before sending it again."
    ),
    "not_delivered": _l("The mobile network could not deliver it."),
    "sender_queue_full": _l(
        "The SMS service's queue for the clinic's number was full; it will be retried."
    ),
    "sender_refused": _l(
        "The SMS service refused the clinic's sender number or messaging service. An "
        "administrator must check the Twilio settings."
    ),
    "opted_out": _l(
        "The patient replied STOP, so the SMS service blocks messages to them. Nothing "
        "will be sent until they reply START."
    ),
    "whatsapp_not_configured": _l(
        "WhatsApp is not set up: an administrator must set SURVEY_TWILIO_WHATSAPP_FROM."
    ),
    "undone": _l("Scheduled again: a coordinator undid the cancellation."),
    "refused": _l("The SMS service refused it."),
}

# Twilio error codes coordinators meet, in plain words, with what to do.
ERROR = {
    20003: _l(
        "The SMS service refused the clinic's account details (Twilio account SID or auth "
        "token). An administrator must correct them."
    ),
    20404: _l(
        "The SMS service could not find the clinic's account, sender or messaging service. "
        "An administrator must check the Twilio settings."
    ),
    21212: _l(
        "The clinic's sender number is not a valid phone number for the SMS service. An "
        "administrator must correct SURVEY_TWILIO_FROM or the messaging service."
    ),
    21606: _l(
        "The clinic's sender number cannot send text messages. An administrator must choose "
        "a number that can."
    ),
    21211: _l("The number is not a valid phone number. Check the digits and edit the number."),
    21214: _l("The number cannot be reached by text message. Check it with the patient."),
    21408: _l(
        "The clinic's SMS account may not send to this country. An administrator must enable it."
    ),
    21610: _l(
        "The patient replied STOP, so the SMS service blocks messages to them. Nothing "
        "will be sent until they reply START."
    ),
    21612: _l("The SMS service cannot send from the clinic's number to this number."),
    21614: _l("The number is not a mobile number, so it cannot receive texts. Edit the number."),
    21635: _l("The number is a landline, so it cannot receive texts. Edit the number."),
    30003: _l(
        "The phone was switched off or out of coverage until the message expired. "
        "Retry later, or call the patient."
    ),
    30004: _l(
        "The message was blocked: the patient or their network blocks texts from the "
        "clinic's number."
    ),
    30005: _l("The number does not exist or is no longer in service. Check it with the patient."),
    30006: _l("The number is a landline or cannot receive texts. Edit the number."),
    30007: _l(
        "The mobile network filtered the message as unwanted. Retry later; if it happens "
        "again, an administrator should contact Twilio."
    ),
    30008: _l("The mobile network gave no reason. Retry later."),
    30036: _l(
        "The message could not reach the phone before quiet hours began, so it expired "
        "unsent. Retry tomorrow."
    ),
    30034: _l(
        "The clinic's sender number is not registered for US messaging. An "
        "administrator must register it."
    ),
}
NUMBER_PROBLEMS = {21211, 21214, 21614, 21635, 30005, 30006}


def status_label(status: str) -> str:
    return str(STATUS.get(status, status))


def explain(message) -> str:
    """The plainest explanation of where a message stands and why."""
    if message.status == MessageStatus.PENDING and message.wait_reason:
        return str(WAIT.get(message.wait_reason, ""))
    if message.error_code in ERROR:
        return str(ERROR[message.error_code])
    text = str(REASON.get(message.reason, "")) if message.reason else ""
    if message.error_code:
        more = _l("SMS service error %(code)s.", code=message.error_code)
        text = f"{text} {more}".strip()
    return text


def alarm_text(alarm) -> str:
    """What stopped a site's channel, in plain words."""
    if alarm.error_code in ERROR:
        return str(ERROR[alarm.error_code])
    text = str(REASON.get(alarm.reason, ""))
    if alarm.error_code:
        more = _l("SMS service error %(code)s.", code=alarm.error_code)
        text = f"{text} {more}".strip()
    return text


def number_problem(message) -> bool:
    """Whether fixing the patient's number is the likely cure."""
    return message.error_code in NUMBER_PROBLEMS or message.reason == "no_number"
