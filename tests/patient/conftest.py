"""The patient pages' fixtures (an enrolled patient, links in every state, a `patient` who
answers on a phone) are shared by every package: they live in tests/fixtures/patients.py,
registered as a plugin in tests/conftest.py."""

# Kept so that imports written before tests/fixtures/ still work; new tests import from
# tests/fixtures/patients.py.
from tests.fixtures.patients import (  # noqa: F401
    BLNS_PATH,
    CCIS_10,
    QOLAF_51,
    Link,
    PatientActions,
    hostile_strings,
    interface,
    refreshed,
)
