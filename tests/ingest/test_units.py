"""Money units per file: each file's plain revenue and amount numbers are read in the unit its
own evidence shows (revenue per employee, the column name), a mapping rule can fix a file's
unit, and no file's unit ever carries over to another."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from icpkit.config import MappingRule
from icpkit.ingest.report import FileReport
from icpkit.workspace import Workspace

Write = Callable[[str, str], Path]
HEADER = "Company name,Company Domain Name,Number of Employees,Annual Revenue"


def _ingest(ws: Workspace, path: Path) -> FileReport:
    result = ws.ingest([path])
    assert result.ok, result.failures
    return result.files[0]


def _companies(prefix: str, revenue: Callable[[int, int], str], n: int = 40) -> str:
    """n companies with 100-139 employees and the revenue cell ``revenue(i, employees)``."""
    rows = [HEADER]
    rows += [f"{prefix} {i},{prefix}{i}.com,{100 + i},{revenue(i, 100 + i)}" for i in range(n)]
    return "\n".join(rows) + "\n"


def _revenue(query, ws: Workspace, prefix: str) -> dict[str, float]:
    rows = query(ws, f"SELECT account_key, revenue FROM accounts WHERE name LIKE '{prefix} %'")
    return {str(k): float(v) for k, v in rows}


def test_revenue_in_millions_is_read_as_millions_and_the_report_says_why(
    query, ws, write: Write
) -> None:
    # $150k per employee, written in millions: 100 employees -> '15.0'.
    text = _companies("Mil", lambda i, e: f"{e * 0.15:.1f}")
    report = _ingest(ws, write("companies_musd.csv", text))
    stored = _revenue(query, ws, "Mil")
    assert stored["mil0.com"] == pytest.approx(15.0e6)
    assert stored["mil39.com"] == pytest.approx(round(139 * 0.15, 1) * 1e6)
    (note,) = [n for n in report.notes if "read as millions" in n]
    assert note.startswith("column 'Annual Revenue': plain numbers read as millions: ")
    assert "median revenue per employee would be $0.15 as written, $150,000 as millions" in note


@pytest.mark.slow
def test_a_file_in_dollars_after_one_in_millions_is_stored_as_written(
    query, ws, write: Write
) -> None:
    _ingest(ws, write("crm_companies.csv", _companies("Mil", lambda i, e: f"{e * 0.15:.1f}")))
    report = _ingest(ws, write("prospects.csv", _companies("Usd", lambda i, e: str(e * 150_000))))
    stored = _revenue(query, ws, "Usd")
    assert stored["usd0.com"] == 15_000_000.0  # not 1.5e13
    assert not [n for n in report.notes if "read as" in n]
    assert _revenue(query, ws, "Mil")["mil0.com"] == pytest.approx(15.0e6)


def test_the_workspace_default_unit_never_overrides_a_files_own_evidence(
    query, ws, write: Write
) -> None:
    ws.settings.ingest.revenue_unit = "millions"
    report = _ingest(ws, write("prospects.csv", _companies("Usd", lambda i, e: str(e * 150_000))))
    assert _revenue(query, ws, "Usd")["usd0.com"] == 15_000_000.0
    assert any("read as written, not as millions" in n for n in report.notes)


def test_the_workspace_default_unit_reads_a_file_that_cannot_tell(query, ws, write) -> None:
    ws.settings.ingest.revenue_unit = "millions"
    report = _ingest(ws, write("list.csv", "Company name,Annual Revenue\nA,5\nB,$7M\nC,12.5\n"))
    assert query(ws, "SELECT name, revenue FROM accounts ORDER BY 1") == [
        ("A", 5e6),
        ("B", 7e6),  # '$7M' carries its own unit
        ("C", 12.5e6),
    ]
    assert any("read as millions (ingest.revenue_unit" in n for n in report.notes)


def test_a_header_saying_in_millions_is_applied_without_employee_counts(
    query, ws, write: Write
) -> None:
    path = write(
        "fast_growth.csv",
        "Company name,Revenue (in millions)\nA,36.9\nB,1.2\nC,$250.5\nD,\n",
    )
    report = _ingest(ws, path)
    assert query(ws, "SELECT name, revenue FROM accounts ORDER BY 1") == [
        ("A", pytest.approx(36.9e6)),
        ("B", pytest.approx(1.2e6)),
        ("C", pytest.approx(250.5e6)),
        ("D", None),
    ]
    (note,) = [n for n in report.notes if "read as millions" in n]
    assert "the column name says millions and every value is below 1,000,000" in note


def test_a_header_unit_the_values_contradict_is_not_applied(query, ws, write: Write) -> None:
    path = write("odd.csv", "Company name,Revenue ($M)\nA,5000000\nB,7000000\n")
    report = _ingest(ws, path)
    assert query(ws, "SELECT max(revenue) FROM accounts") == [(7_000_000.0,)]
    (note,) = [n for n in report.notes if "unit unsure" in n]
    assert "would be above $1T as millions" in note


def test_small_revenue_without_employees_or_a_unit_loads_as_written_with_the_fix(
    query, ws, write: Write
) -> None:
    report = _ingest(ws, write("sample.csv", "Company name,Revenue\nA,36.9\nB,12.5\nC,4.1\n"))
    assert query(ws, "SELECT max(revenue) FROM accounts") == [(36.9,)]
    (note,) = [n for n in report.notes if "unit unsure" in n]
    assert "loaded as written" in note
    assert "set revenue_unit: millions (or units) on an ingest.mapping rule with files: " in note
    assert "'sample.csv'" in note


def test_too_few_companies_to_judge_is_unsure(query, ws, write: Write) -> None:
    text = _companies("Few", lambda i, e: f"{e * 0.15:.1f}", n=8)
    report = _ingest(ws, write("few.csv", text))
    assert _revenue(query, ws, "Few")["few0.com"] == 15.0
    (note,) = [n for n in report.notes if "unit unsure" in n]
    assert "fewer than 20 companies" in note


@pytest.mark.slow
def test_a_mapping_rule_fixes_the_unit_of_its_files_only(query, ws, write: Write) -> None:
    ws.settings.ingest.mapping.append(MappingRule(files="legacy*.csv", revenue_unit="thousands"))
    # Revenue per employee says millions; the rule says thousands, and wins for its files.
    legacy = _ingest(ws, write("legacy_2013.csv", _companies("Leg", lambda i, e: str(e * 150))))
    other = _ingest(ws, write("current.csv", _companies("Cur", lambda i, e: str(e * 150_000))))
    assert _revenue(query, ws, "Leg")["leg0.com"] == 15_000 * 1e3
    assert _revenue(query, ws, "Cur")["cur0.com"] == 15_000_000.0
    assert any(
        "read as thousands (ingest.mapping rule for 'legacy*.csv')" in n for n in legacy.notes
    )
    assert not [n for n in other.notes if "read as" in n]


DEALS = "Record ID,Deal Name,Deal Stage,{amount},Close Date,Create Date,Associated Company\n"


def test_deal_amounts_in_a_column_named_in_thousands_are_scaled(query, ws, write: Write) -> None:
    rows = [
        "1,A,closedwon,1.2,2024-03-01,2024-01-01,Acme",
        "2,B,closedlost,3.5,2024-03-01,2024-01-01,Beta",
        "3,C,closedwon,$4000,2024-03-01,2024-01-01,Gamma",
    ]
    report = _ingest(ws, write("deals_k.csv", DEALS.format(amount="Amount (k)") + "\n".join(rows)))
    assert query(ws, "SELECT source_id, amount FROM deals ORDER BY 1") == [
        ("1", pytest.approx(1200.0)),
        ("2", pytest.approx(3500.0)),
        ("3", pytest.approx(4_000_000.0)),  # '$4000' has no magnitude word: a plain amount
    ]
    assert any("column 'Amount (k)': plain numbers read as thousands" in n for n in report.notes)


@pytest.mark.slow
def test_deal_amounts_without_a_unit_in_their_name_are_read_as_written(
    query, ws, write: Write
) -> None:
    rows = ["1,A,closedwon,1.2,2024-03-01,2024-01-01,Acme"]
    _ingest(ws, write("deals.csv", DEALS.format(amount="Amount") + "\n".join(rows)))
    assert query(ws, "SELECT amount FROM deals") == [(1.2,)]


@pytest.mark.slow
def test_a_mapping_rule_sets_the_amount_unit(query, ws, write: Write) -> None:
    ws.settings.ingest.mapping.append(MappingRule(files="old*.csv", amount_unit="thousands"))
    rows = ["1,A,closedwon,12,2024-03-01,2024-01-01,Acme"]
    _ingest(ws, write("old_deals.csv", DEALS.format(amount="Amount") + "\n".join(rows)))
    assert query(ws, "SELECT amount FROM deals") == [(12_000.0,)]
