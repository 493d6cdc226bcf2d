from datetime import datetime
from typing import Literal

import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.dates import DateOrder, infer_date_order, parse_date

MARCH_5 = datetime(2024, 3, 5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05", MARCH_5),
        ("2024/03/05", MARCH_5),
        ("20240305", MARCH_5),
        ("2024-03-05T10:22:00Z", datetime(2024, 3, 5, 10, 22)),
        ("2024-03-05 10:22", datetime(2024, 3, 5, 10, 22)),
        ("2024-03-05T10:22:00.123+02:00", datetime(2024, 3, 5, 8, 22, 0, 123000)),
        ("2024-03-05 10:22:00 -0500", datetime(2024, 3, 5, 15, 22)),
        ("2024-03-05T00:30:00+02:00", datetime(2024, 3, 4, 22, 30)),
    ],
)
def test_iso_timestamps_become_naive_utc(raw: str, expected: datetime) -> None:
    for order in DateOrder:
        assert parse_date(raw, order) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/05/2024", MARCH_5),
        ("3/5/24", MARCH_5),
        ("03/05/2024 10:30 AM", datetime(2024, 3, 5, 10, 30)),
        ("03/05/2024 10:30 PM", datetime(2024, 3, 5, 22, 30)),
        ("12/25/2024 12:00 AM", datetime(2024, 12, 25, 0, 0)),
        ("3/5/2024 14:05", datetime(2024, 3, 5, 14, 5)),
        ("3/5/85", datetime(1985, 3, 5)),
    ],
)
def test_month_first_dates_in_a_month_first_column(raw: str, expected: datetime) -> None:
    assert parse_date(raw, DateOrder.MDY) == expected


@pytest.mark.parametrize("raw", ["05/03/2024", "05.03.2024", "5-3-2024", "5/3/24"])
def test_day_first_dates_in_a_day_first_column(raw: str) -> None:
    assert parse_date(raw, DateOrder.DMY) == MARCH_5


@pytest.mark.parametrize(
    "raw",
    [
        "Mar 5, 2024",
        "March 5 2024",
        "5 March 2024",
        "05-Mar-2024",
        "Tue, 05 Mar 2024",
        "5th March 2024",
    ],
)
def test_month_names_are_unambiguous_in_any_column(raw: str) -> None:
    assert parse_date(raw, DateOrder.MDY) == MARCH_5
    assert parse_date(raw, DateOrder.DMY) == MARCH_5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("45356", MARCH_5), ("45356.5", datetime(2024, 3, 5, 12, 0)), ("29221", datetime(1980, 1, 1))],
)
def test_excel_serials_count_days_from_1899_12_30(raw: str, expected: datetime) -> None:
    assert parse_date(raw, DateOrder.SERIAL) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1709634120000", datetime(2024, 3, 5, 10, 22)), ("1709634120", datetime(2024, 3, 5, 10, 22))],
)
def test_unix_epoch_milliseconds_and_seconds(raw: str, expected: datetime) -> None:
    assert parse_date(raw, DateOrder.MDY) == expected


@pytest.mark.parametrize("raw", ["", "  ", "N/A", "#N/A"])
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_date(raw, DateOrder.MDY) is None


@pytest.mark.parametrize(
    ("raw", "order", "reason"),
    [
        ("2024-02-30", DateOrder.ISO, "February 2024 has no day 30"),
        ("2023-02-29", DateOrder.ISO, "February 2023 has no day 29"),
        ("2024-13-01", DateOrder.ISO, "there is no month 13"),
        ("1850-01-01", DateOrder.ISO, "year 1850 is outside 1900-2100"),
        ("2150-01-01", DateOrder.ISO, "year 2150 is outside"),
        ("31/31/2024", DateOrder.DMY, "neither 31 nor 31 is a month"),
        ("25/03/2024", DateOrder.MDY, "day-first date '25/03/2024' in a month-first column"),
        ("03/25/2024", DateOrder.DMY, "month-first date '03/25/2024' in a day-first column"),
        ("45356", DateOrder.MDY, "bare number '45356' in a column of text dates"),
        ("12345", DateOrder.SERIAL, "outside the Excel serial range"),
        ("2024-03-05 25:00", DateOrder.ISO, "impossible time"),
        ("2024-03-05 13:00 PM", DateOrder.ISO, "with AM/PM"),
        ("Foo 5, 2024", DateOrder.MDY, "unknown month name 'Foo'"),
        ("garbage", DateOrder.MDY, "not a recognizable date: 'garbage'"),
        ("03/05/2024", DateOrder.ISO, "ambiguous day/month date"),
    ],
)
def test_unreadable_dates_say_why(raw: str, order: DateOrder, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_date(raw, order)


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


@pytest.mark.parametrize("default", ["mdy", "dmy"])
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
    [
        # Dotted dates are day-first by convention ...
        (["05.03.2023"], [datetime(2023, 3, 5)]),
        (["05.03.2023", "06.04.2023"], [datetime(2023, 3, 5), datetime(2023, 4, 6)]),
        (["05.03.23"], [datetime(2023, 3, 5)]),
        (["05.03.2023 14:30"], [datetime(2023, 3, 5, 14, 30)]),
        # ... whatever the column's slash dates say ...
        (["05.03.2023", "04/03/2023"], [datetime(2023, 3, 5), datetime(2023, 4, 3)]),
        (["05.03.2023", "04/13/2023"], [datetime(2023, 3, 5), datetime(2023, 4, 13)]),
        (["05.03.2023", "2023-03-10"], [datetime(2023, 3, 5), datetime(2023, 3, 10)]),
        # ... unless a dotted date itself has a second part above 12.
        (["05.03.2023", "03.13.2023"], [datetime(2023, 5, 3), datetime(2023, 3, 13)]),
        # Year-first dotted dates are year-month-day.
        (["2023.03.05"], [datetime(2023, 3, 5)]),
        (["2023.03.05", "2023.12.31"], [datetime(2023, 3, 5), datetime(2023, 12, 31)]),
    ],
)
def test_dotted_dates_are_day_first_unless_they_prove_otherwise(
    column: list[str], expected: list[datetime]
) -> None:
    assert _read_column(column) == expected


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
