from datetime import datetime
from typing import Literal

import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.dates import DateOrder, infer_date_order, parse_date

MARCH_5 = datetime(2024, 3, 5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("dates", "iso_timestamps_become_naive_utc"),
)
def test_iso_timestamps_become_naive_utc(raw: str, expected: str) -> None:
    for order in DateOrder:
        assert parse_date(raw, order) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("dates", "month_first_dates_in_a_month_first_column"),
)
def test_month_first_dates_in_a_month_first_column(raw: str, expected: str) -> None:
    assert parse_date(raw, DateOrder.MDY) == datetime.fromisoformat(expected)


@pytest.mark.parametrize("raw", cases("dates", "day_first_dates_in_a_day_first_column"))
def test_day_first_dates_in_a_day_first_column(raw: str) -> None:
    assert parse_date(raw, DateOrder.DMY) == MARCH_5


@pytest.mark.parametrize(
    "raw",
    cases("dates", "month_names_are_unambiguous_in_any_column"),
)
def test_month_names_are_unambiguous_in_any_column(raw: str) -> None:
    assert parse_date(raw, DateOrder.MDY) == MARCH_5
    assert parse_date(raw, DateOrder.DMY) == MARCH_5


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("dates", "excel_serials_count_days_from_1899_12_30"),
)
def test_excel_serials_count_days_from_1899_12_30(raw: str, expected: str) -> None:
    assert parse_date(raw, DateOrder.SERIAL) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    cases("dates", "unix_epoch_milliseconds_and_seconds"),
)
def test_unix_epoch_milliseconds_and_seconds(raw: str, expected: str) -> None:
    assert parse_date(raw, DateOrder.MDY) == datetime.fromisoformat(expected)


@pytest.mark.parametrize("raw", cases("dates", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_date(raw, DateOrder.MDY) is None


@pytest.mark.parametrize(
    ("raw", "order", "reason"),
    cases("dates", "unreadable_dates_say_why"),
)
def test_unreadable_dates_say_why(raw: str, order: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_date(raw, DateOrder(order))


def test_orders_may_be_given_as_strings() -> None:
    assert parse_date("05/03/2024", "dmy") == MARCH_5


def test_day_first_column_is_detected_from_a_day_above_twelve() -> None:
    result = infer_date_order(["01/02/2024", "25/03/2024", ""])
    assert result.order is DateOrder.DMY
    assert not result.ambiguous
    assert not result.inconsistent
    assert "first part above 12" in result.explanation


def test_month_first_column_is_detected_from_a_second_part_above_twelve() -> None:
    result = infer_date_order(["01/02/2024", "03/25/2024"], default="dmy")
    assert result.order is DateOrder.MDY
    assert not result.ambiguous
    assert "second part above 12" in result.explanation


def test_column_with_both_kinds_is_inconsistent_and_the_majority_wins() -> None:
    values = ["25/03/2024", "26/03/2024", "03/25/2024", "01/02/2024"]
    result = infer_date_order(values)
    assert result.order is DateOrder.DMY
    assert result.inconsistent
    assert "Inconsistent" in result.explanation
    assert parse_date("25/03/2024", result.order) == datetime(2024, 3, 25)
    with pytest.raises(Unreadable, match="month-first date"):
        parse_date("03/25/2024", result.order)


@pytest.mark.parametrize(
    "default", cases("dates", "column_without_evidence_uses_the_default_and_says_it_is_ambiguous")
)
def test_column_without_evidence_uses_the_default_and_says_it_is_ambiguous(
    default: Literal["mdy", "dmy"],
) -> None:
    result = infer_date_order(["01/02/2024", "03/04/2024"], default=default)
    assert result.order == default
    assert result.ambiguous
    assert "Ambiguous" in result.explanation
    assert default.upper() in result.explanation


def test_dotted_dates_are_day_first_by_convention() -> None:
    result = infer_date_order(["01.02.2024", "03.04.2024"], default="mdy")
    assert result.order is DateOrder.DMY
    assert not result.ambiguous
    assert parse_date("01.02.2024", result.order) == datetime(2024, 2, 1)


def test_column_of_bare_five_digit_numbers_is_serial() -> None:
    result = infer_date_order(["45356", "45000.25", "N/A"])
    assert result.order is DateOrder.SERIAL
    assert parse_date("45356", result.order) == MARCH_5


def test_a_few_serials_among_iso_dates_do_not_make_a_serial_column() -> None:
    result = infer_date_order(["2024-01-01", "2024-01-02", "45356"])
    assert result.order is DateOrder.ISO


def test_column_of_iso_and_named_dates_needs_no_decision() -> None:
    result = infer_date_order(["2024-03-05", "Mar 5, 2024", "1709634120000"])
    assert result.order is DateOrder.ISO
    assert not result.ambiguous
    assert parse_date("05.03.2024", result.order) == MARCH_5


def _read_column(values: list[str], default: Literal["mdy", "dmy"] = "mdy") -> list[datetime]:
    """Every value of a column as the column's inferred order reads it."""
    inference = infer_date_order(values, default=default)
    parsed = [parse_date(v, inference.order, dotted=inference.dotted) for v in values]
    assert all(p is not None for p in parsed)
    return [p for p in parsed if p is not None]


@pytest.mark.parametrize(
    ("column", "expected"),
    cases("dates", "dotted_dates_are_day_first_unless_they_prove_otherwise"),
)
def test_dotted_dates_are_day_first_unless_they_prove_otherwise(
    column: list[str], expected: list[str]
) -> None:
    assert _read_column(column) == [datetime.fromisoformat(e) for e in expected]


def test_dotted_dates_beside_slash_dates_are_explained() -> None:
    result = infer_date_order(["05.03.2023", "04/13/2023"])
    assert result.order is DateOrder.MDY
    assert result.dotted is DateOrder.DMY
    assert "dotted dates" in result.explanation and "day-first" in result.explanation


def test_a_dmy_default_does_not_turn_dotted_dates_around() -> None:
    result = infer_date_order(["05.03.2023", "04/03/2023"], default="dmy")
    assert result.dotted is None  # both day-first: nothing to single out
    assert _read_column(["05.03.2023", "04/03/2023"], default="dmy") == [
        datetime(2023, 3, 5),
        datetime(2023, 3, 4),
    ]
