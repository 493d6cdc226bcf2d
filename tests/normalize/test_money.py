import pytest

from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.money import (
    Money,
    RevenueUnitCheck,
    check_amount,
    parse_money,
    suggest_revenue_unit,
)


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("5,000,000", 5e6, None),
        ("5000000.00", 5e6, None),
        ("$5M", 5e6, "USD"),
        ("€2.3bn", 2.3e9, "EUR"),
        ("2.3 bn", 2.3e9, None),
        ("1.2 billion", 1.2e9, None),
        ("£750k", 750e3, "GBP"),
        ("750K", 750e3, None),
        ("5 MM", 5e6, None),
        ("10 mio", 10e6, None),
        ("USD 1,200", 1200.0, "USD"),
        ("USD1200", 1200.0, "USD"),
        ("1200 EUR", 1200.0, "EUR"),
        ("1200eur", 1200.0, "EUR"),
        ("EUR 1.234,56", 1234.56, "EUR"),
        ("1.000.000 €", 1e6, "EUR"),
        ("$5M USD", 5e6, "USD"),
        ("CHF 100", 100.0, "CHF"),
    ],
)
def test_single_amounts_with_suffixes_and_currencies(
    raw: str, amount: float, currency: str | None
) -> None:
    assert parse_money(raw) == Money(amount, amount, amount, currency)


@pytest.mark.parametrize(
    ("raw", "currency"),
    [
        ("$1", "USD"),
        ("€1", "EUR"),
        ("£1", "GBP"),
        ("¥1", "JPY"),
        ("₹1", "INR"),
        ("C$1", "CAD"),
        ("A$1", "AUD"),
        ("R$1", "BRL"),
        ("US$1", "USD"),
        ("CAD 1", "CAD"),
        ("1 AUD", "AUD"),
    ],
)
def test_currency_symbols_map_to_iso_codes(raw: str, currency: str) -> None:
    result = parse_money(raw)
    assert result is not None
    assert result.currency == currency
    assert result.amount == 1.0


@pytest.mark.parametrize(
    ("raw", "low", "high", "currency"),
    [
        ("$1M-$10M", 1e6, 10e6, "USD"),
        ("1M - 10M", 1e6, 10e6, None),
        ("1M to 10M", 1e6, 10e6, None),
        ("$1-10M", 1e6, 10e6, "USD"),
        ("€50k–€100k", 50e3, 100e3, "EUR"),
    ],
)
def test_money_ranges_carry_their_midpoint(
    raw: str, low: float, high: float, currency: str | None
) -> None:
    assert parse_money(raw) == Money((low + high) / 2, low, high, currency)


@pytest.mark.parametrize(
    ("raw", "low", "currency"),
    [("$10M+", 10e6, "USD"), ("10M+", 10e6, None), (">$10M", 10e6, "USD")],
)
def test_open_money_ranges_have_no_upper_bound(raw: str, low: float, currency: str | None) -> None:
    assert parse_money(raw) == Money(low, low, None, currency)


def test_an_upper_bound_only_starts_at_zero() -> None:
    assert parse_money("Less than $1M") == Money(500e3, 0.0, 1e6, "USD")


@pytest.mark.parametrize(
    ("raw", "currency"),
    [
        ("(1,200)", None),
        ("-1,200", None),
        ("-$1,200", "USD"),
        ("$-1,200", "USD"),
        ("USD -1200", "USD"),
    ],
)
def test_negative_amounts_are_returned_for_the_caller_to_judge(
    raw: str, currency: str | None
) -> None:
    assert parse_money(raw) == Money(-1200.0, -1200.0, -1200.0, currency)


@pytest.mark.parametrize("raw", ["", "N/A", "null"])
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_money(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "no amount found in 'abc'"),
        ("$", "no amount found"),
        ("5%", "percentages are not accepted"),
        ("$5M EUR", "two currencies USD and EUR"),
        ("$1M-€10M", "range mixes currencies USD and EUR"),
        ("10M-1M", "reversed money range"),
        ("xyz 5", "unreadable amount 'xyz 5'"),
    ],
)
def test_unreadable_amounts_say_why(raw: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse_money(raw)


def test_check_amount_rejects_negative_amounts() -> None:
    with pytest.raises(Unreadable, match="negative amount"):
        check_amount(Money(-5.0, -5.0, -5.0, None), field="deal amount", max_value=1e10)


def test_check_amount_rejects_absurd_amounts_naming_the_field_and_cap() -> None:
    with pytest.raises(Unreadable, match=r"absurd amount 3\.0e\+13 exceeds 1e\+10 for deal amount"):
        check_amount(Money(3e13, 3e13, 3e13, None), field="deal amount", max_value=1e10)


def test_check_amount_judges_a_range_by_its_upper_bound() -> None:
    with pytest.raises(Unreadable, match="absurd amount"):
        check_amount(Money(5e9, 1.0, 1e10, None), field="revenue", max_value=9e9)


def test_check_amount_accepts_plausible_amounts() -> None:
    check_amount(Money(5e6, 1e6, None, "USD"), field="revenue", max_value=1e10)


def _unit_check(revenue_per_employee: float, pairs: int) -> RevenueUnitCheck:
    employees = [10.0 * (i + 1) for i in range(pairs)]
    return suggest_revenue_unit([e * revenue_per_employee for e in employees], employees)


@pytest.mark.parametrize(
    ("revenue_per_employee", "unit"),
    [(0.2, "millions"), (1.5, "millions"), (200.0, "thousands"), (1500.0, "thousands"),
     (200_000.0, "units"), (25_000.0, "units")],
)  # fmt: skip
def test_revenue_unit_follows_the_scale_of_revenue_per_employee(
    revenue_per_employee: float, unit: str
) -> None:
    result = _unit_check(revenue_per_employee, pairs=30)
    assert result.unit == unit
    assert result.median_revenue_per_employee == pytest.approx(revenue_per_employee)
    assert result.pairs == 30
    assert result.confident


def test_revenue_unit_is_not_confident_below_twenty_pairs() -> None:
    result = _unit_check(0.2, pairs=19)
    assert result.unit == "millions"
    assert not result.confident
    assert "19 companies" in result.explanation


def test_revenue_unit_is_not_confident_when_the_ratio_is_implausible_in_every_unit() -> None:
    result = _unit_check(10.0, pairs=30)
    assert not result.confident
    assert "outside the plausible range" in result.explanation


def test_revenue_unit_ignores_rows_missing_either_value() -> None:
    result = suggest_revenue_unit([0.0, 5.0, -1.0, 2.0], [10.0, 0.0, 10.0, 10.0])
    assert result.pairs == 1
    assert result.median_revenue_per_employee == pytest.approx(0.2)


def test_revenue_unit_without_pairs_says_so() -> None:
    result = suggest_revenue_unit([], [])
    assert result == RevenueUnitCheck("units", None, 0, False, result.explanation)
    assert "No rows" in result.explanation


def test_revenue_unit_explanation_quotes_the_median_and_the_unit() -> None:
    result = _unit_check(0.2, pairs=25)
    assert "0.2" in result.explanation
    assert "millions" in result.explanation
    assert "25 companies" in result.explanation
