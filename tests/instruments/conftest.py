"""Fixtures for instrument tests: the shipped instruments and ways to build answers and files."""

import copy

import pytest

from survey.instruments import get_instrument
from survey.instruments.definition_file import definition_dict


@pytest.fixture
def qolaf():
    """The shipped QoLAF-Q."""
    return get_instrument("qolaf-q")


@pytest.fixture
def ccis():
    """The shipped CCIS."""
    return get_instrument("ccis")


@pytest.fixture
def qolaf_definition(qolaf):
    """A fresh, editable copy of the QoLAF-Q definition dict."""
    return copy.deepcopy(definition_dict(qolaf))


@pytest.fixture
def ccis_definition(ccis):
    """A fresh, editable copy of the CCIS definition dict."""
    return copy.deepcopy(definition_dict(ccis))
