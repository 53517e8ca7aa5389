"""Triage of answered timepoints and the clinicians' worklist.

- `rules`: the rules (data in `defaults.json`, per-site overrides) and the level they give a
  timepoint, as plain functions.
- `assessing`: reading a patient's history and storing one item per answered timepoint, in
  the submit's transaction.
- `contact`: the patient's "please contact me".
- `worklist`: what staff see and do: take an item, record the outcome, close it; audited.
- `settings`: a site's own rules, due times and reply to patients.
- `load`: the alert load (share of answered timepoints at each level).

Nothing is imported here, so that models and submission can import the parts they need.
"""
