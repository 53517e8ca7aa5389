"""Numbers in query strings are read without trusting them."""

import pytest
from werkzeug.datastructures import MultiDict

from survey.querystring import parse_whole_number, search_text, whole_number


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3", 3),
        ("", 1),
        ("0", 1),
        ("-2", 1),
        ("99999999999999999999", 1),
        ("2147483647", 2147483647),
        ("2147483648", 1),
        ("٣", 1),
        ("3.0", 1),
        (" 3", 1),
        ("1e3", 1),
    ],
)
def test_only_plain_whole_numbers_in_range_are_taken(text, expected):
    assert whole_number(MultiDict({"page": text}), "page", default=1, least=1) == expected


@pytest.mark.parametrize(
    "text, expected",
    [(" DEMO-1 ", "DEMO-1"), ("\x00", ""), ("a\u202eb", ""), ("x" * 65, ""), ("Müller", "Müller")],
)
def test_search_terms_without_control_characters_are_taken(text, expected):
    assert search_text(MultiDict({"q": text}), "q") == expected


@pytest.mark.parametrize(
    "text, longest, expected",
    [
        ("7", 10, 7),
        ("0042", 4, 42),
        ("00042", 4, None),
        ("9" * 10, 10, 9_999_999_999),
        ("9" * 11, 10, None),
        ("", 10, None),
        ("-1", 10, None),
        ("+1", 10, None),
        ("1_000", 10, None),
        (" 1", 10, None),
        ("١", 10, None),
        ("²", 10, None),
    ],
)
def test_one_reading_of_a_typed_whole_number(text, longest, expected):
    assert parse_whole_number(text, longest=longest) == expected
