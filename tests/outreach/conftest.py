"""This package's fixtures (a fixed clock, enrolment on the default schedule, the SMS
backends and signed webhooks) and its helpers live in
tests/fixtures/outreach.py, and tests import the helpers from there. Importing them here makes the
fixtures this package's own: some names, such as `enrolled` or `clinician`, mean something else
in other packages."""

from tests.fixtures.outreach import *  # noqa: F403
