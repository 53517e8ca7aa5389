"""Outreach: follow-up schedules, the SMS they cause, sending them, and what the provider says.

- `schedule_definitions`: schedules as data (the shipped default, checks, creating and retiring).
- `patient_schedule`: a patient's place in their schedule (enrolling, changing details, a new
  episode, pausing, resuming, withdrawing); `bulk_enrolment` enrols a theatre list at once.
- `invitation_messages`: planning a patient's invitations and their messages from the
  schedule, and cancelling the messages not sent yet.
- `message_status`: the one place a message changes status.
- `texts` and `segments`: the SMS wording in each language and what each text costs.
- `policy`: quiet hours and per-patient message limits.
- `dispatch` (the passes) and `claims` (one message through them): claiming due messages,
  sending them, recording what happened; `background` runs one in the development server.
- `backends`: console (development) and Twilio.
- `callbacks`: provider status reports and patients' replies (STOP, START, HELP); `consent`
  what STOP and START do to a phone; `alarms` a site's account or sender refused.
- `actions` and `explain`: what a coordinator can do to a message, and plain words for them.

The HTTP side of `callbacks` is `survey/sms_webhooks.py`.
"""
