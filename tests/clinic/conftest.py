"""This package's fixtures (patients with a history and a signed-in clinician) and its
helpers live in tests/fixtures/clinic.py, and tests import the helpers from there. Importing
them here makes the fixtures this package's own: some names, such as `enrolled` or
`clinician`, mean something else in other packages."""

from tests.fixtures.clinic import *  # noqa: F403
