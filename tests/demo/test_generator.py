"""make_crm: determinism, file layout, row counts, references and bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from icpkit.demo import make_crm
from icpkit.demo.generator import (
    COMPANY_COLUMNS,
    DEAL_COLUMNS,
    ORPHAN_COMPANY_ID,
    SIGNAL_COLUMNS,
)

from .conftest import Loaded

FILES = (
    "companies.csv",
    "deals.csv",
    "signals.csv",
    "truth/deal_truth.csv",
    "truth/company_truth.csv",
)
OPEN_STAGES = {
    "Appointment Scheduled",
    "Qualified To Buy",
    "Presentation Scheduled",
    "Decision Maker Bought-In",
    "Contract Sent",
}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = make_crm(1_500, 3, tmp_path / "a", chunk_size=1_000)
    b = make_crm(1_500, 3, tmp_path / "b", chunk_size=1_000)
    for name in (*FILES, "truth/planted_truth.json"):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name


def test_another_seed_gives_other_files(tmp_path: Path) -> None:
    a = make_crm(1_000, 3, tmp_path / "a")
    b = make_crm(1_000, 4, tmp_path / "b")
    for name in FILES:
        assert (a.out_dir / name).read_bytes() != (b.out_dir / name).read_bytes(), name


def test_row_counts_match_demofiles_and_json(small: Loaded) -> None:
    f, counts = small.files, small.truth["counts"]
    assert f.n_deals == 2_000 == len(small.deals) == len(small.deal_truth) == counts["deals"]
    assert f.n_companies == 1_250 == len(small.company_truth) == counts["companies"]
    assert f.n_company_rows == len(small.companies) == counts["company_rows"]
    assert f.n_signals == len(small.signals) == counts["signals"]
    assert f.n_company_rows - f.n_companies == small.quirk("duplicate_company")
    assert counts["closed_won"] + counts["closed_lost"] + counts["open"] == 2_000
    assert counts["new_business"] + counts["existing_business"] == 2_000
    assert small.truth["seed"] == 7 and small.truth["n_deals"] == 2_000


def test_headers_encoding_and_line_endings(small: Loaded) -> None:
    companies = small.files.companies.read_bytes()
    deals = small.files.deals.read_bytes()
    assert companies.startswith(b"\xef\xbb\xbf" + b"Record ID,Company name,")
    assert not deals.startswith(b"\xef\xbb\xbf")
    assert companies.count(b"\r\n") >= small.files.n_company_rows + 1
    assert deals.count(b"\r\n") == small.files.n_deals + 1
    assert tuple(small.companies[0]) == COMPANY_COLUMNS
    assert tuple(small.deals[0]) == DEAL_COLUMNS
    assert tuple(small.signals[0]) == SIGNAL_COLUMNS


def test_deals_reference_existing_companies_except_the_orphan(small: Loaded) -> None:
    ids = {row["Record ID"] for row in small.companies}
    dangling = [d for d in small.deals if d["Associated Company IDs"] not in ids]
    assert [d["Associated Company IDs"] for d in dangling] == [str(ORPHAN_COMPANY_ID)]
    assert small.quirk("orphan_company_ref") == 1


@pytest.mark.slow
def test_duplicates_share_a_domain_and_domains_are_otherwise_unique(large: Loaded) -> None:
    domains = [c["domain"] for c in large.company_truth]
    assert len(set(domains)) == len(domains)
    by_id = {c["Record ID"]: c for c in large.company_truth}
    dups = [c for c in large.company_truth if c["duplicate_record_id"]]
    written = {c["Record ID"]: c for c in large.companies}
    for c in dups:
        dup_row = written[c["duplicate_record_id"]]
        assert dup_row["Company Domain Name"].removeprefix("www.") == c["domain"]
        assert dup_row["Company name"] != written[c["Record ID"]]["Company name"]
    assert len(dups) == large.quirk("duplicate_company") > 0
    assert all(c["Record ID"] in by_id for c in dups)


def test_timeline_and_open_deals(small: Loaded) -> None:
    outcome = {t["Record ID"]: t["outcome"] for t in small.deal_truth}
    for d in small.deals:
        assert "2022-01-01" <= d["Create Date"][:10] <= "2025-09-30"
        if outcome[d["Record ID"]] == "open":
            assert d["Deal Stage"] in OPEN_STAGES and d["Close Date"] == ""
        else:
            assert d["Deal Stage"].lower().replace(" ", "") in {"closedwon", "closedlost"}
    late_open = [
        outcome[d["Record ID"]] == "open" for d in small.deals if d["Create Date"] >= "2025-07-02"
    ]
    assert 0.3 < sum(late_open) / len(late_open) < 0.9
    old = [outcome[d["Record ID"]] for d in small.deals if d["Create Date"] < "2024-01-01"]
    assert old and "open" not in old


def test_output_does_not_depend_on_existing_files(tmp_path: Path) -> None:
    first = make_crm(500, 5, tmp_path)
    before = first.deals.read_bytes()
    again = make_crm(500, 5, tmp_path)
    assert again.deals.read_bytes() == before


@pytest.mark.parametrize("kwargs", [{"n_deals": 10}, {"n_deals": 1000, "chunk_size": 10}])
def test_rejects_bad_sizes(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        make_crm(seed=1, out_dir=tmp_path, **kwargs)


@pytest.mark.slow
def test_memory_is_bounded_by_chunk_size(tmp_path: Path) -> None:
    def peak(n: int) -> int:
        tracemalloc.start()
        make_crm(n, 1, tmp_path / str(n), chunk_size=5_000)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, big = peak(10_000), peak(60_000)
    # Holding all 60,000 deal rows (plus companies and signals) as Python strings would take
    # well over 60 MB; per-chunk generation keeps the peak flat as n grows.
    assert big < 1.3 * small
    assert big < 40_000_000
