import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.employees import EmployeeCount, parse_employees


@pytest.mark.parametrize(
    ("raw", "count"),
    cases("employees", "exact_counts_have_equal_value_low_and_high"),
)
def test_exact_counts_have_equal_value_low_and_high(raw: str, count: int) -> None:
    assert parse_employees(raw) == EmployeeCount(count, count, count)


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    cases("employees", "employee_ranges_map_to_their_midpoint"),
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
    cases("employees", "open_ranges_have_no_upper_bound"),
)
def test_open_ranges_have_no_upper_bound(raw: str, low: int) -> None:
    assert parse_employees(raw) == EmployeeCount(low, low, None)


@pytest.mark.parametrize(("raw", "count"), cases("employees", "magnitude_suffixes_multiply"))
def test_magnitude_suffixes_multiply(raw: str, count: int) -> None:
    assert parse_employees(raw) == EmployeeCount(count, count, count)


@pytest.mark.parametrize("raw", cases("employees", "self_employed_is_one_person"))
def test_self_employed_is_one_person(raw: str) -> None:
    assert parse_employees(raw) == EmployeeCount(1, 1, 1)


def test_an_upper_bound_only_starts_at_one() -> None:
    assert parse_employees("<10") == EmployeeCount(6, 1, 10)


@pytest.mark.parametrize("raw", cases("employees", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_employees(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("employees", "impossible_head_counts_are_unreadable"),
)
def test_impossible_head_counts_are_unreadable(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_employees(raw)
