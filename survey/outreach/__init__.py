"""Outreach: follow-up schedules, the SMS they cause, sending them, and what the provider says.

- `schedules`: schedules as data (the shipped default, checks, creating and retiring).
- `scheduling`: enrolment with a schedule, moving and pausing a patient's invitations.
- `texts` and `segments`: the SMS wording in each language and what each text costs.
- `policy`: quiet hours and per-patient message limits.
- `dispatch`: claiming due messages, sending them, recording what happened.
- `backends`: console (development) and Twilio.
- `callbacks`: provider status reports and patients' replies (STOP, START, HELP).
- `webhooks`: the HTTP side of `callbacks`, and the development outbox page.
"""
