import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.employees import EmployeeCount, parse_employees


@pytest.mark.parametrize(
    ("raw", "count"),
    [("137", 137), ("1,200", 1200), ("1200.0", 1200), (" 42 ", 42), ("1 employee", 1)],
)
def test_exact_counts_have_equal_value_low_and_high(raw: str, count: int) -> None:
    assert parse_employees(raw) == EmployeeCount(count, count, count)


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    [
        ("51-200", 51, 200),
        ("51 - 200", 51, 200),
        ("1,001-5,000", 1001, 5000),
        ("51 to 200", 51, 200),
        ("201–500", 201, 500),
        ("2-10 employees", 2, 10),
        ("11-50 employees", 11, 50),
        ("10-50K", 10_000, 50_000),
        ("251-1K", 251, 1_000),
        ("1K-5K", 1_000, 5_000),
    ],
)
def test_employee_ranges_map_to_their_midpoint(raw: str, low: int, high: int) -> None:
    result = parse_employees(raw)
    assert result is not None
    assert (result.low, result.high) == (low, high)
    assert result.value == (low + high + 1) // 2


def test_range_midpoints_round_half_up() -> None:
    assert parse_employees("51-200") == EmployeeCount(126, 51, 200)


def test_linkedin_zero_to_one_bucket_is_one_employee() -> None:
    assert parse_employees("0-1 employees") == EmployeeCount(1, 0, 1)


@pytest.mark.parametrize(
    ("raw", "low"),
    [
        ("10K+", 10_000),
        ("10001+", 10_001),
        ("10,000+", 10_000),
        ("10,001+ employees", 10_001),
        ("5000 or more", 5000),
        (">1000", 1000),
        ("more than 500", 500),
    ],
)
def test_open_ranges_have_no_upper_bound(raw: str, low: int) -> None:
    assert parse_employees(raw) == EmployeeCount(low, low, None)


@pytest.mark.parametrize(
    ("raw", "count"), [("10k", 10_000), ("1.5K", 1500), ("2M", 2_000_000), ("1,5k", 1500)]
)
def test_magnitude_suffixes_multiply(raw: str, count: int) -> None:
    assert parse_employees(raw) == EmployeeCount(count, count, count)


@pytest.mark.parametrize("raw", ["Self-employed", "self employed", "SELF-EMPLOYED"])
def test_self_employed_is_one_person(raw: str) -> None:
    assert parse_employees(raw) == EmployeeCount(1, 1, 1)


def test_an_upper_bound_only_starts_at_one() -> None:
    assert parse_employees("<10") == EmployeeCount(6, 1, 10)


@pytest.mark.parametrize("raw", ["", "N/A", "--"])
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_employees(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-5", "negative employee count"),
        ("(5)", "negative employee count"),
        ("0", "zero employees"),
        ("200-51", "reversed employee range 200-51"),
        ("5000000", "employee count 5000000 is beyond the largest employer"),
        ("10M+", "beyond the largest employer"),
        ("12.5", "fractional employee count"),
        ("lots", "not an employee count: 'lots'"),
        ("about 50ish", "not an employee count"),
    ],
)
def test_impossible_head_counts_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_employees(raw)
