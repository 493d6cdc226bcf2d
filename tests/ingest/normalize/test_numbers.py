import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.numbers import parse_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("numbers", "thousands_separators_are_removed"),
)
def test_thousands_separators_are_removed(raw: str, expected: float) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("numbers", "several_dots_are_thousands_and_the_last_separator_is_the_decimal"),
)
def test_several_dots_are_thousands_and_the_last_separator_is_the_decimal(
    raw: str, expected: float
) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("numbers", "a_lone_comma_is_thousands_only_before_exactly_three_digits"),
)
def test_a_lone_comma_is_thousands_only_before_exactly_three_digits(
    raw: str, expected: float
) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("numbers", "signs_parentheses_exponents_and_whitespace"),
)
def test_signs_parentheses_exponents_and_whitespace(raw: str, expected: float) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw", cases("numbers", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("numbers", "unreadable_numbers_say_why"),
)
def test_unreadable_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_number(raw)
