"""Coordinator pages under /clinic/follow-up/: enrolment, schedules, and delivery of the SMS
invitations, with a queue of messages that need a person. The blueprint is in blueprint.py;
the view modules (patients, schedules, messages, enrol_list, answering) put their routes on
it."""
