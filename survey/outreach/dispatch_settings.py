"""What a dispatcher pass is told: where links point, the sending rules, how often and how fast
a failed send is tried again, how long a send may hang before review, how many at once.

Built from the app's typed settings (`survey.settings`), so a bad value has stopped the start
already; dispatch.py and claims.py both read it, and neither imports the other for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from survey.outreach.backends import MAX_CONCURRENT_SENDS
from survey.outreach.policy import SendingRules
from survey.settings import settings_of


@dataclass(frozen=True)
class DispatchSettings:
    public_url: str
    rules: SendingRules = SendingRules()
    max_attempts: int = 6
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=1)
    sending_grace: timedelta = timedelta(minutes=10)
    concurrency: int = 1  # messages sent at once by one dispatcher (PostgreSQL only)

    @classmethod
    def from_config(cls, config) -> DispatchSettings:
        """The settings of the app whose `config` this is (SURVEY_PUBLIC_URL, SURVEY_SMS_*)."""
        found = settings_of(config)
        return cls(
            public_url=found.public_url,
            rules=SendingRules.from_config(config),
            max_attempts=found.sms_max_attempts,  # checked at start: at least 1
            retry_base=timedelta(seconds=found.sms_retry_base_seconds),
            retry_max=timedelta(seconds=found.sms_retry_max_seconds),
            sending_grace=timedelta(minutes=found.sms_sending_grace_minutes),
            concurrency=min(found.sms_dispatch_concurrency, MAX_CONCURRENT_SENDS),
        )

    def status_callback(self, message_id: int) -> str:
        return f"{self.public_url}/webhooks/twilio/status?message={message_id}"

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential backoff with a little jitter, so failed sends do not return in step."""
        delay = min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max)
        return delay * random.uniform(0.9, 1.0)  # noqa: S311 (not security)
