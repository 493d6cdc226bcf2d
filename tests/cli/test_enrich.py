"""``icp enrich``: a run from a file of your own, its dry run, provenance, conflicts, and
clean refusals (no network: the file provider and the plan need none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.workspace import Workspace

runner = CliRunner()

COMPANIES = (
    "Record ID,Company name,Company Domain Name,Number of Employees\n"
    "1,Acme,acme.com,\n"
    "2,Globex,globex.com,5000\n"
)
ZOOMINFO = (
    "ZoomInfo Company ID,Company Name,Website,Employees,Revenue (in 000s USD),Primary Industry,"
    "Country\n"
    "11,Acme Corp,www.acme.com,120,25000,Software,United States\n"
    "12,Globex,globex.com,40,9000,Manufacturing,Germany\n"
    "13,Nowhere,,10,1,Software,France\n"
    "14,Elsewhere,elsewhere.org,10,1,Software,France\n"
)


def icp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    assert icp("init", str(ws))[0] == 0
    companies = tmp_path / "companies.csv"
    companies.write_text(COMPANIES)
    code, out = icp("ingest", str(companies), "-w", str(ws))
    assert code == 0, out
    return ws


@pytest.fixture
def zoominfo(tmp_path: Path) -> Path:
    path = tmp_path / "zoominfo_export.csv"
    path.write_text(ZOOMINFO)
    return path


def test_a_zoominfo_export_enriches_the_accounts_and_says_what_it_set_aside(
    workspace: Path, zoominfo: Path
) -> None:
    code, out = icp("enrich", "--file", str(zoominfo), "-w", str(workspace))
    assert code == 0, out
    assert "Fields filled (accounts): country 2, employees 1, industry 2, revenue 2." in out
    # The row without a website and the row of a domain the workspace lacks are named.
    assert "zoominfo_export.csv, line 4" in out
    assert "1 of 3 rows name a domain the workspace does not hold" in out

    code, out = icp("enrich", "show", "acme.com", "-w", str(workspace), "--format", "json")
    doc = json.loads(out)
    employees = next(r for r in doc["rows"] if r["field"] == "employees")
    assert employees["value"] == "120"
    assert employees["source"] == "file:zoominfo_export.csv:line 2"


def test_conflicts_between_the_crm_and_a_file_are_listed(workspace: Path, zoominfo: Path) -> None:
    icp("enrich", "--file", str(zoominfo), "-w", str(workspace))
    code, out = icp("enrich", "conflicts", "-w", str(workspace), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["per_field"] == {"employees": 1}
    (row,) = doc["rows"]
    assert row["field"] == "employees" and row["kept"] == "5000"


def test_a_dry_run_fetches_nothing_and_shows_the_plan(workspace: Path) -> None:
    code, out = icp(
        "enrich", "--provider", "website", "--dry-run", "-w", str(workspace), "--format", "json"
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["rows"] == [
        {
            "provider": "website",
            "accounts": 2,
            "cached": 0,
            "to fetch": 2,
            "credits (at most)": 0.0,
            "time": "under a second",
            "note": "",
        }
    ]
    code, out = icp("enrich", "show", "acme.com", "-w", str(workspace))
    assert "No value observed for this account yet." in out


def test_an_unknown_provider_is_refused_with_the_known_ones(workspace: Path) -> None:
    code, out = icp("enrich", "--provider", "clearbitt", "-w", str(workspace))
    assert code != 0
    assert "no enrichment provider is called 'clearbitt'" in out
    assert "known providers: website" in out


def test_a_keyed_provider_without_its_key_names_the_variable_never_a_value(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PDL_API_KEY", raising=False)
    monkeypatch.setenv("ICPKIT_SECRETS_FILE", str(workspace / "no-such-file"))
    code, out = icp("enrich", "--provider", "pdl", "-w", str(workspace))
    assert code != 0
    assert "PDL_API_KEY" in out and "Traceback" not in out


def test_an_empty_workspace_says_there_is_nothing_to_enrich(tmp_path: Path) -> None:
    ws = tmp_path / "empty"
    assert icp("init", str(ws))[0] == 0
    code, out = icp("enrich", "--provider", "website", "-w", str(ws))
    assert code == 0, out
    assert "The workspace holds no account to enrich: ingest an export first." in out


def test_the_summary_shows_what_each_provider_answered(workspace: Path, zoominfo: Path) -> None:
    icp("enrich", "--file", str(zoominfo), "-w", str(workspace))
    code, out = icp("summary", "-w", str(workspace))
    assert code == 0, out
    assert "Enrichment" in out
    # The file knows acme.com and globex.com: two found, no miss, no failure.
    row = next(line for line in out.splitlines() if "zoominfo_export" in line)
    assert [cell.strip() for cell in row.split("│")[2:6]] == ["2", "2", "0", "0"]


UNIVERSE = (
    "account_key,name,domain,employees\n"
    "elsewhere.org,Elsewhere,elsewhere.org,\n"
    "globex.com,Globex,globex.com,\n"
    "name:nowhere,Nowhere,,7\n"
)


@pytest.fixture
def universe(tmp_path: Path) -> Path:
    path = tmp_path / "prospects.csv"
    path.write_text(UNIVERSE)
    return path


def test_enrich_universe_writes_every_row_and_adds_no_account(
    workspace: Path, zoominfo: Path, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prospects_enriched.csv"
    code, text = icp(
        "enrich", "--universe", str(universe), "--out", str(out), "--file", str(zoominfo),
        "-w", str(workspace),
    )  # fmt: skip
    assert code == 0, text
    assert "3 of 3 rows written" in text
    assert "1 row has no domain: written as read." in text
    # The file's row without a website, and its row of a company the universe lacks (acme.com).
    assert "zoominfo_export.csv, line 4" in text
    assert "1 of 3 rows name a domain the universe does not hold: not used" in " ".join(
        text.split()
    )
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 3
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(",", len(header) - 1), strict=True)) for line in lines[1:]]
    assert [r["employees"] for r in rows] == ["10", "40", "7"]  # from the file, the file, its own
    assert "enriched_from" in header
    # The universe's companies stay out of the workspace.
    assert Workspace.open(workspace).summary()["counts"]["accounts"] == 2


def test_enrich_universe_as_json_says_what_it_read_and_wrote(
    workspace: Path, zoominfo: Path, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prospects_enriched.parquet"
    code, text = icp(
        "enrich", "--universe", str(universe), "--out", str(out), "--file", str(zoominfo),
        "--format", "json", "-w", str(workspace),
    )  # fmt: skip
    assert code == 0, text
    doc = json.loads(text)
    assert doc["command"] == "enrich universe"
    assert doc["universe"]["rows"] == doc["universe"]["written"] == 3
    assert doc["universe"]["without_domain"] == 1 and doc["universe"]["domains"] == 2
    # The file holds all four for both domains; the universe held none of them.
    assert doc["universe"]["filled"] == {"country": 2, "employees": 2, "industry": 2, "revenue": 2}
    (row,) = doc["rows"]
    assert (row["fetched"], row["found"], row["missed"], row["failed"]) == (2, 2, 0, 0)


def test_enrich_universe_needs_an_out_file_unless_it_is_a_dry_run(
    workspace: Path, universe: Path
) -> None:
    code, text = icp("enrich", "--universe", str(universe), "-w", str(workspace))
    assert code == 2 and "--universe needs --out" in text
    code, text = icp(
        "enrich", "--universe", str(universe), "--dry-run", "--provider", "website",
        "-w", str(workspace),
    )  # fmt: skip
    assert code == 0, text
    assert "What enriching the universe would fetch" in text
    assert "3 rows, 2 distinct domains to enrich" in text
