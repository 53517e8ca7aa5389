"""This package's fixtures (staff of each role signed in on clients of their own, and the
url_map's routes) and its helpers live in
tests/fixtures/security.py, and tests import the helpers from there. Importing them here makes the
fixtures this package's own: some names, such as `enrolled` or `clinician`, mean something else
in other packages."""

from tests.fixtures.security import *  # noqa: F403
