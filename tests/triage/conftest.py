"""This package's fixtures (a signed-in clinician's worklist and answers that make triage
items) and its helpers live in
tests/fixtures/triage.py, and tests import the helpers from there. Importing them here makes the
fixtures this package's own: some names, such as `enrolled` or `clinician`, mean something else
in other packages."""

from tests.fixtures.triage import *  # noqa: F403
