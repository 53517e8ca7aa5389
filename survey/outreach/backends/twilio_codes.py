"""Twilio's words, in ours: its message statuses and what its error codes mean for a send.

Only the Twilio backend and Twilio's webhooks read this module; the dispatcher hears the
outcome in the backend interface's terms (`Outcome`, our `MessageStatus`, a reason word).

Error codes fall in three groups:
- about one message (an invalid or unsubscribed number, a landline, ...): it failed for good;
- about the moment (the sender's queue is full, too many requests, Twilio's own trouble): try
  the same message again later, with backoff;
- about the account or the sender (credentials refused, the sender number or messaging service
  is not valid or cannot send SMS): every message would fail the same way, so the site's
  channel pauses until an administrator fixes it and resumes sending.
"""

from survey.models import MessageStatus

STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
OPTED_OUT = {21610}  # "Attempt to send to unsubscribed recipient"
TRANSIENT = {
    20429,  # too many requests
    20500,  # internal server error
    20503,  # service unavailable
    21611,  # the sender's queue of messages is full
    30001,  # queue overflow
}
ACCOUNT = {
    20003,  # authentication failed
    20005,  # account not active
    20008,  # test credentials used against the live API
    20404,  # the account, sender or messaging service was not found
    21212,  # the From number is not a valid phone number or short code
    21603,  # no From number or messaging service
    21606,  # the From number cannot send SMS
    21659,  # the From number is not a Twilio number of this account
    21701,  # the messaging service does not exist
    21703,  # the messaging service has no sender
    21704,  # the messaging service's senders are all unusable
}


def status_of(provider_status: str | None) -> MessageStatus | None:
    return STATUS.get((provider_status or "").lower())
