import pytest

from helpers import cases
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.money import (
    Money,
    MoneyEvidence,
    check_amount,
    infer_amount_unit,
    infer_decimal_separator,
    infer_revenue_unit,
    parse_money,
    unit_in_header,
)


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    cases("money", "single_amounts_with_suffixes_and_currencies"),
)
def test_single_amounts_with_suffixes_and_currencies(
    raw: str, amount: float, currency: str | None
) -> None:
    assert parse_money(raw) == Money(amount, amount, amount, currency)


@pytest.mark.parametrize(
    ("raw", "currency"),
    cases("money", "currency_symbols_map_to_iso_codes"),
)
def test_currency_symbols_map_to_iso_codes(raw: str, currency: str) -> None:
    result = parse_money(raw)
    assert result is not None
    assert result.currency == currency
    assert result.amount == 1.0


@pytest.mark.parametrize(
    ("raw", "low", "high", "currency"),
    cases("money", "money_ranges_carry_their_midpoint"),
)
def test_money_ranges_carry_their_midpoint(
    raw: str, low: float, high: float, currency: str | None
) -> None:
    assert parse_money(raw) == Money((low + high) / 2, low, high, currency)


@pytest.mark.parametrize(
    ("raw", "low", "currency"),
    cases("money", "open_money_ranges_have_no_upper_bound"),
)
def test_open_money_ranges_have_no_upper_bound(raw: str, low: float, currency: str | None) -> None:
    assert parse_money(raw) == Money(low, low, None, currency)


def test_an_upper_bound_only_starts_at_zero() -> None:
    assert parse_money("Less than $1M") == Money(500e3, 0.0, 1e6, "USD")


@pytest.mark.parametrize(
    ("raw", "currency"),
    cases("money", "negative_amounts_are_returned_for_the_caller_to_judge"),
)
def test_negative_amounts_are_returned_for_the_caller_to_judge(
    raw: str, currency: str | None
) -> None:
    assert parse_money(raw) == Money(-1200.0, -1200.0, -1200.0, currency)


@pytest.mark.parametrize("raw", cases("money", "blank_cells_give_none"))
def test_blank_cells_give_none(raw: str) -> None:
    assert parse_money(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    cases("money", "unreadable_amounts_say_why"),
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


@pytest.mark.parametrize(
    ("column", "unit"),
    cases("money", "a_column_name_can_declare_its_unit"),
)
def test_a_column_name_can_declare_its_unit(column: str, unit: str | None) -> None:
    assert unit_in_header(column) == unit


def _evidence(per_employee: float | None, pairs: int, largest: float = 50.0) -> MoneyEvidence:
    return MoneyEvidence(
        values=max(pairs, 3), largest=largest, median=largest / 2, pairs=pairs,
        median_per_employee=per_employee,
    )  # fmt: skip


def test_revenue_per_employee_decides_the_unit_with_enough_companies() -> None:
    decision = infer_revenue_unit("Annual Revenue", _evidence(0.0113, 40))
    assert (decision.unit, decision.confident) == ("millions", True)
    assert decision.evidence == (
        "median revenue per employee would be $0.0113 as written, $11,300 as millions "
        "(40 companies with both)"
    )


def test_plausible_revenue_per_employee_as_written_keeps_units() -> None:
    decision = infer_revenue_unit("Annual Revenue", _evidence(150_000.0, 40, 1e9))
    assert (decision.unit, decision.confident) == ("units", True)


def test_a_header_unit_the_ratio_confirms_needs_few_companies() -> None:
    decision = infer_revenue_unit("Revenue ($M)", _evidence(0.15, 6))
    assert (decision.unit, decision.confident) == ("millions", True)
    assert decision.evidence.startswith("the column name says millions and median revenue")


def test_a_header_unit_the_ratio_contradicts_is_unsure() -> None:
    decision = infer_revenue_unit("Revenue ($M)", _evidence(150_000.0, 40, 1e9))
    assert not decision.confident
    assert "the column name says millions, but median revenue per employee" in decision.evidence


def test_without_employees_only_a_header_and_fitting_magnitudes_decide() -> None:
    fits = infer_revenue_unit("Revenue (in millions)", MoneyEvidence(30, 950.5, 36.9))
    assert (fits.unit, fits.confident) == ("millions", True)
    too_big = infer_revenue_unit("Revenue (in millions)", MoneyEvidence(30, 5e6, 36.9))
    assert not too_big.confident
    plain = infer_revenue_unit("Revenue", MoneyEvidence(30, 950.5, 36.9))
    assert not plain.confident and "no employee counts" in plain.evidence
    large = infer_revenue_unit("Revenue", MoneyEvidence(30, 9e8, 5e6))
    assert (large.unit, large.confident) == ("units", True)


def test_deal_amounts_change_unit_only_when_their_name_says_so() -> None:
    small = MoneyEvidence(10, 3.5, 1.2)
    assert infer_amount_unit("Amount (k)", small).unit == "thousands"
    assert infer_amount_unit("ACV $M", small).unit == "millions"
    assert infer_amount_unit("Amount", small).unit == "units"
    huge = infer_amount_unit("Amount (k)", MoneyEvidence(10, 5e7, 1e6))
    assert (huge.unit, huge.confident) == ("units", False)


def test_companies_whose_ratios_disagree_leave_the_unit_unsure() -> None:
    mixed = MoneyEvidence(40, 1e9, 50.0, 40, 0.2, quartiles_per_employee=(0.1, 150_000.0))
    decision = infer_revenue_unit("Annual Revenue", mixed)
    assert not decision.confident
    assert "the companies disagree" in decision.evidence


def test_a_ratio_implausible_in_every_unit_is_unsure() -> None:
    decision = infer_revenue_unit("Annual Revenue", _evidence(5e7, 40, 1e12))
    assert not decision.confident and "implausible in every unit" in decision.evidence


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    cases("money", "each_thousands_and_decimal_convention_reads_as_written"),
)
def test_each_thousands_and_decimal_convention_reads_as_written(
    raw: str, amount: float, currency: str | None
) -> None:
    m = parse_money(raw)
    assert m is not None
    assert m.amount == pytest.approx(amount)
    assert m.currency == currency
    assert m.read is None  # the value's own separators settle it


@pytest.mark.parametrize(
    ("raw", "amount", "read"),
    cases("money", "a_lone_ambiguous_dot_follows_its_currency_and_says_so"),
)
def test_a_lone_ambiguous_dot_follows_its_currency_and_says_so(
    raw: str, amount: float, read: str
) -> None:
    m = parse_money(raw)
    assert m is not None
    assert m.amount == pytest.approx(amount)
    assert m.read == read


@pytest.mark.parametrize(
    ("column", "decimal"),
    cases("money", "the_column_decides_its_decimal_separator_from_the_values_that_show_it"),
)
def test_the_column_decides_its_decimal_separator_from_the_values_that_show_it(
    column: list[str], decimal: str | None
) -> None:
    assert infer_decimal_separator(column).decimal == decimal


@pytest.mark.parametrize(
    ("raw", "decimal", "amount"),
    cases("money", "ambiguous_values_follow_the_columns_decimal_separator"),
)
def test_ambiguous_values_follow_the_columns_decimal_separator(
    raw: str, decimal: str, amount: float
) -> None:
    m = parse_money(raw, decimal)  # type: ignore[arg-type]
    assert m is not None
    assert m.amount == pytest.approx(amount)
