"""The live server and headless Chromium are shared: tests/fixtures/browser.py, registered as
a plugin in tests/conftest.py."""

# Kept so that imports written before tests/fixtures/ still work; new tests import from
# tests/fixtures/browser.py.
from tests.fixtures.browser import PHONE, wait_for_rows  # noqa: F401
