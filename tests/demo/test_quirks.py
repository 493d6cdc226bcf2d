"""Every documented messy quirk occurs, exactly as often as planted_truth.json says."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest

from .conftest import Loaded

CANONICAL_COUNTRIES = {
    "United States",
    "United Kingdom",
    "Germany",
    "France",
    "Canada",
    "Netherlands",
    "Australia",
    "India",
}


def employee_quirk(value: str) -> str | None:
    if value == "":
        return "employees_blank"
    if value == "10K+":
        return "employees_k_plus"
    if "-" in value or value.endswith("+"):
        return "employees_range"
    return "employees_thousands_separator" if re.fullmatch(r"\d{1,3}(,\d{3})+", value) else None


def revenue_quirk(value: str) -> str | None:
    if value == "":
        return "revenue_blank"
    if value.startswith("$"):
        return "revenue_short_usd"
    if value.startswith("€"):
        return "revenue_short_eur"
    if value.endswith(("million", "billion")):
        return "revenue_words"
    return "revenue_thousands_separator" if "," in value else None


def domain_quirk(value: str) -> str | None:
    if value == "":
        return "domain_missing"
    if value.startswith("www."):
        return "domain_www"
    if value.startswith("https://"):
        return "domain_url"
    return "domain_uppercase" if value.isupper() else None


def industry_quirk(value: str) -> str | None:
    if value == "":
        return "industry_blank"
    if value == "Computer Sofware":
        return "industry_typo"
    if value == "software":
        return "industry_lowercase"
    return "industry_enum_style" if re.fullmatch(r"[A-Z_]+", value) and "_" in value else None


def country_quirk(value: str) -> str | None:
    if value == "":
        return "country_blank"
    return None if value in CANONICAL_COUNTRIES else "country_alias"


def amount_quirk(value: str) -> str | None:
    if value == "":
        return "amount_blank"
    if value.startswith("-"):
        return "amount_negative"
    if value.startswith("$"):
        return "amount_dollar"
    return "amount_thousands_separator" if re.fullmatch(r"[\d,]+\.\d\d", value) else None


def observed(data: Loaded) -> Counter[str]:
    """Quirks found by reading the files back, independently of the generator's bookkeeping."""
    seen: Counter[str] = Counter()
    for row in data.companies:
        name = row["Company name"]
        found = [
            employee_quirk(row["Number of Employees"]),
            revenue_quirk(row["Annual Revenue"]),
            domain_quirk(row["Company Domain Name"]),
            industry_quirk(row["Industry"]),
            country_quirk(row["Country/Region"]),
            "name_accents" if not name.isascii() else None,
            "name_ampersand" if "&" in name else None,
            {"=": "name_formula_equals", "+": "name_formula_plus", "@": "name_formula_at"}.get(
                name[:1]
            ),
            "description_multiline" if "\n" in row["Description"] else None,
            "description_with_quotes" if '"' in row["Description"] else None,
        ]
        seen.update(q for q in found if q)
    seen["duplicate_company"] = len(data.companies) - len(data.company_truth)

    ids = {row["Record ID"] for row in data.companies}
    dup_ids = {c["duplicate_record_id"] for c in data.company_truth if c["duplicate_record_id"]}
    for deal in data.deals:
        found = [
            amount_quirk(deal["Amount"]),
            "deal_name_with_comma" if "," in deal["Deal Name"] else None,
            "stage_variant"
            if deal["Deal Stage"] in {"closedwon", "Closed won", "closedlost", "Closed lost"}
            else None,
            "orphan_company_ref" if deal["Associated Company IDs"] not in ids else None,
            "deal_on_duplicate_company" if deal["Associated Company IDs"] in dup_ids else None,
        ]
        close = deal["Close Date"]
        if close == "soon":
            found.append("close_date_unparseable")
        elif close:
            month, day, year = map(int, close.split("/"))
            if date(year, month, day) < date.fromisoformat(deal["Create Date"][:10]):
                found.append("close_before_create")
        seen.update(q for q in found if q)
    return seen


def test_every_quirk_occurs_at_2000_deals(small: Loaded) -> None:
    for quirk in small.truth["messy_quirks"]:
        assert quirk["count"] > 0, quirk["name"]
        assert quirk["file"] and quirk["column"] and quirk["description"]


@pytest.mark.slow
def test_quirk_counts_match_the_files(small: Loaded, large: Loaded) -> None:
    for data in (small, large):
        seen = observed(data)
        for quirk in data.truth["messy_quirks"]:
            if quirk["name"] in ("utf8_bom", "crlf_line_endings"):
                continue
            assert seen[quirk["name"]] == quirk["count"], quirk["name"]


@pytest.mark.slow
def test_odd_values_are_a_few_percent_and_unreadable_rows_rare(large: Loaded) -> None:
    n_deals, n_rows = len(large.deals), len(large.companies)
    for name in ("domain_www", "domain_url", "domain_uppercase", "domain_missing"):
        assert large.quirk(name) / n_rows < 0.04, name
    for name in ("stage_variant", "amount_blank", "amount_dollar"):
        assert large.quirk(name) / n_deals < 0.05, name
    unreadable = sum(
        large.quirk(name)
        for name in (
            "amount_negative",
            "close_date_unparseable",
            "close_before_create",
            "orphan_company_ref",
        )
    )
    assert 0 < unreadable / n_deals < 0.005


@pytest.mark.slow
def test_employee_ranges_agree_with_the_true_count(large: Loaded) -> None:
    true = {c["Record ID"]: int(c["employees"]) for c in large.company_truth}
    bands = {
        "1-10": (1, 10),
        "11-50": (11, 50),
        "51-200": (51, 200),
        "201-500": (201, 500),
        "501-1,000": (501, 1000),
        "1,001-5,000": (1001, 5000),
        "5,001-10,000": (5001, 10000),
        "10,001+": (10001, 10**9),
        "10K+": (10001, 10**9),
    }
    for row in large.companies:
        value, record = row["Number of Employees"], row["Record ID"]
        if record not in true or not value:
            continue
        if value in bands:
            low, high = bands[value]
            assert low <= true[record] <= high
        else:
            assert int(value.replace(",", "")) == true[record]


def test_formula_names_and_multiline_descriptions_survive_csv_quoting(small: Loaded) -> None:
    names = [row["Company name"] for row in small.companies]
    assert any(n.startswith('=HYPERLINK("http://') for n in names)
    raw = small.files.companies.read_text(encoding="utf-8-sig")
    assert '"=HYPERLINK(""http://' in raw
    multi = [r["Description"] for r in small.companies if "\n" in r["Description"]]
    assert multi and all('"' in d and "," in d for d in multi)
