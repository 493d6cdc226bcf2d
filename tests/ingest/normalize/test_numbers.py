import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.numbers import parse_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234,567", 1234567.0),
        ("1 234 567", 1234567.0),
        ("1'234", 1234.0),
        ("1\u00a0234", 1234.0),
        ("1\u202f234,5", 1234.5),
        ("12,34,567", 1234567.0),
    ],
)
def test_thousands_separators_are_removed(raw: str, expected: float) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234.567", 1234567.0),
        ("1.234.567,89", 1234567.89),
        ("1,234,567.89", 1234567.89),
        ("1.234,56", 1234.56),
        ("1,234.56", 1234.56),
        ("1 234,56", 1234.56),
    ],
)
def test_several_dots_are_thousands_and_the_last_separator_is_the_decimal(
    raw: str, expected: float
) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1,234", 1234.0), ("1,5", 1.5), ("1,50", 1.5), ("0,500", 0.5), ("1.5", 1.5), (".5", 0.5)],
)
def test_a_lone_comma_is_thousands_only_before_exactly_three_digits(
    raw: str, expected: float
) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+5", 5.0),
        ("-3.5", -3.5),
        ("(1,200)", -1200.0),
        ("( 7 )", -7.0),
        ("  42  ", 42.0),
        ("1.2E+06", 1200000.0),
        ("0", 0.0),
    ],
)
def test_signs_parentheses_exponents_and_whitespace(raw: str, expected: float) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "N/A", "-", "#N/A"])
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12%", "percentages are not accepted"),
        ("12a", "not a number"),
        ("abc", "not a number"),
        ("1,2,3", "misplaced thousands separator"),
        ("12,3456,789", "misplaced thousands separator"),
        ("1 234'567", "mixed thousands separators"),
        ("1.234,56,7", "misplaced decimal separator"),
        ("(-5)", "double negative"),
    ],
)
def test_unreadable_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_number(raw)
