"""The ``icp`` command: a thin shell whose failures are messages, never tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import DemoRun, DemoWorkspaces
from icpkit.cli.main import app

runner = CliRunner()


def icp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    code, out = icp("init", str(tmp_path / "ws"))
    assert code == 0, out
    return tmp_path / "ws"


def test_init_creates_settings_and_store(workspace: Path) -> None:
    assert (workspace / "icp.yaml").is_file()
    assert (workspace / "workspace.duckdb").is_file()


def test_ingest_prints_counts_and_reasons(workspace: Path, write) -> None:
    path = write("deals.csv", "Record ID,Deal Stage,Amount\n1,Closed Won,-3\n2,Closed Lost,5\n")
    code, out = icp("ingest", "-w", str(workspace), str(path))
    assert code == 0, out
    assert "read 2 rows · loaded 2 · quarantined 0 rows and 1 cells" in out
    assert "cell: negative amount" in out


def test_dry_run_explains_the_mapping_it_chose(workspace: Path, fixtures: Path) -> None:
    code, out = icp(
        "ingest", "-w", str(workspace), "--dry-run", str(fixtures / "hubspot_deals.csv")
    )
    assert code == 0, out
    assert "HubSpot deals, mapping confidence" in out
    assert "Deal Stage" in out and "exact" in out
    code, out = icp("summary", "-w", str(workspace))
    assert "deals 0" in out


def test_quarantine_lists_file_line_column_value_and_reason(workspace: Path, write) -> None:
    path = write("deals.csv", "Record ID,Deal Stage,Amount\n1,Closed Won,-3\n")
    icp("ingest", "-w", str(workspace), str(path))
    code, out = icp("quarantine", "-w", str(workspace), "--format", "json")
    assert code == 0
    [entry] = json.loads(out)["rows"]
    assert entry["file"] == "deals.csv"
    assert (entry["line"], entry["column"], entry["raw_value"]) == (2, "Amount", "-3")
    assert entry["reason"] == "negative amount"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty.csv: empty file"),
        (b"\x00\x01\x02\x03binary", "empty.csv looks like binary data"),
        (b"Opportunity Name,Amount\nX,1\n", "missing a required column for deals"),
    ],
)
def test_bad_files_give_one_clear_error_and_exit_1(workspace, write, content, expected) -> None:
    path = write("empty.csv", content)
    code, out = icp("ingest", "-w", str(workspace), str(path))
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_strict_exits_with_the_first_problem(workspace: Path, write) -> None:
    path = write("deals.csv", "Record ID,Deal Stage,Close Date\n1,Closed Won,someday\n")
    code, out = icp("ingest", "-w", str(workspace), "--strict", str(path))
    assert code == 1
    assert "deals.csv, line 2, column 'Close Date', value 'someday'" in out


def test_commands_outside_a_workspace_say_how_to_make_one(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ICP_WORKSPACE", raising=False)
    code, out = icp("summary")
    assert code == 1
    assert "no icpkit workspace" in out and "icp init" in out


def test_broken_icp_yaml_names_the_key(workspace: Path) -> None:
    (workspace / "icp.yaml").write_text("ingest:\n  date_order: sideways\n")
    code, out = icp("summary", "-w", str(workspace))
    assert code == 1
    assert "ingest.date_order" in out and "sideways" in out


def test_workspace_is_found_from_a_subfolder(workspace: Path, monkeypatch) -> None:
    sub = workspace / "exports"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.delenv("ICP_WORKSPACE", raising=False)
    code, out = icp("summary")
    assert code == 0
    assert str(workspace) in out.replace("\n", "")


def test_demo_data_writes_the_exports_and_the_truth(tmp_path: Path) -> None:
    code, out = icp("demo-data", "--rows", "500", "--seed", "3", "--out", str(tmp_path / "d"))
    assert code == 0, out
    names = {p.name for p in (tmp_path / "d").iterdir()}
    assert {"companies.csv", "deals.csv", "signals.csv"} <= names
    # The ground truth sits in a folder of its own, out of reach of `icp ingest d/*.csv`.
    assert {p.name for p in (tmp_path / "d").glob("*.csv")} == {
        "companies.csv",
        "deals.csv",
        "signals.csv",
    }
    truth = {p.name for p in (tmp_path / "d" / "truth").iterdir()}
    assert truth == {"planted_truth.json", "deal_truth.csv", "company_truth.csv"}


@pytest.mark.slow
def test_demo_runs_the_chain_and_says_where_the_results_are(tmp_path: Path) -> None:
    code, out = icp("demo", "--rows", "500", "--dir", str(tmp_path / "demo"))
    assert code == 0, out
    assert "deals.csv: HubSpot deals" in out
    assert "deals 500 (won" in " ".join(out.split())
    assert (tmp_path / "demo" / "workspace" / "workspace.duckdb").is_file()
    assert str(tmp_path / "demo") in out.replace("\n", "")
    # Step 11: names and domains only, enriched from the demo's websites, derived again.
    text = " ".join(out.split())
    assert "Planted truth vs the ICP derived from enriched names and domains" in text
    assert (tmp_path / "demo" / "workspace-enriched" / "workspace.duckdb").is_file()


@pytest.mark.slow
def test_demo_ends_with_the_derived_icp_next_to_the_planted_truth(icp_demo: DemoRun) -> None:
    # `icp demo --rows 3000 --no-enrich`, run once for this test and the report's.
    assert icp_demo.failure is None, icp_demo.failure
    assert icp_demo.exit_code == 0, icp_demo.output
    text = " ".join(icp_demo.output.split())
    assert "Planted truth vs derived ICP" in text
    assert "employees 51-200 │ fit │ employees-51-200" in text
    assert "WRONGLY IN" not in text


@pytest.mark.slow
def test_analyze_and_derive_commands_write_tables_and_the_icp(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    ws = str(demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root)
    code, out = icp("analyze", "lift", "-w", ws, "--format", "json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert {
        "attribute",
        "value",
        "lift",
        "lift_ci",
        "q_value",
        "verdict",
        "woe",
        "information_value",
        "share_won",
        "share_lost",
    } <= set(rows[0])
    code, out = icp("analyze", "segments", "--by", "employees", "-w", ws, "--format", "csv")
    assert code == 0
    assert out.splitlines()[0].startswith("attribute,value,deals,wins,accounts,win_rate")
    code, out = icp("analyze", "segments", "--by", "colour", "-w", ws)
    assert code == 1 and "no attribute 'colour'" in out
    code, out = icp("analyze", "tiers", "-w", ws)
    assert code == 0 and "Tier 1" in out
    code, out = icp("derive", "-w", ws)
    assert code == 0 and "ICP unchanged (version 1)" in out
    code, out = icp("history", "-w", ws)
    assert code == 0 and "ICP versions" in out
    code, out = icp("schema")
    assert json.loads(out)["$id"].endswith("icp-1.json")


@pytest.mark.slow
def test_diff_shows_what_a_hand_edit_changed_between_versions(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    import yaml

    ws = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    data = yaml.safe_load((ws / "icp.yaml").read_text())
    data["icp"]["exclusions"].append(
        {
            "id": "country-no",
            "attribute": "country",
            "values": ["NO"],
            "kind": "human",
            "source": "human",
            "reason": "no sales team in Norway",
        }
    )
    (ws / "icp.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    code, out = icp("derive", "-w", str(ws), "--note", "Norway out")
    assert code == 0 and "ICP version 2 written" in out
    code, out = icp("diff", "1", "2", "-w", str(ws))
    assert code == 0
    assert "+ exclusions country-no: country = NO" in " ".join(out.split())
    code, out = icp("diff", "1", "9", "-w", str(ws))
    assert code == 1 and "Traceback" not in out
