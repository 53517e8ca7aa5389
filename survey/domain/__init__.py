"""The domain of follow-up: plain functions over the models, taking the session and returning
values (the caller commits). Enrolment, invitations, answers and submission, scores and
summaries, the wording in use, triage, staff accounts' security; no views, no outreach."""
