"""Checking icp.yaml: errors stop a command, a rule on a column no file has is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.config import save_settings
from icpkit.icp.check import check_workspace, reported_extra_columns, unknown_extra_columns
from icpkit.icp.model import ICP, dump_icp, load_icp
from icpkit.workspace import Workspace
from small_crm import write_crm

COMPANIES = (
    "Company name,Company Domain Name,Number of Employees,Industry,Time Zone\n"
    "Acme,acme.com,120,Software,Europe/Berlin\n"
    "Globex,globex.com,40,Retail,America/New_York\n"
)


def icp_with(attribute: str) -> ICP:
    return load_icp(
        {
            "derived_at": "2024-05-01T10:00:00Z",
            "data_fingerprint": "abc",
            "fit": [
                {
                    "id": "berlin",
                    "attribute": attribute,
                    "values": ["Europe/Berlin"],
                    "source": "human",
                    "reason": "launch market",
                }
            ],
        }
    )


@pytest.fixture
def ingested(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    path = tmp_path / "companies.csv"
    path.write_text(COMPANIES)
    assert ws.ingest([path]).ok
    return ws


def test_a_rule_on_a_missing_extra_column_is_a_warning_with_a_suggestion() -> None:
    warnings = unknown_extra_columns(icp_with("extra:Time Zon"), {"Time Zone", "Region"})
    assert len(warnings) == 1
    assert "'Time Zon'" in warnings[0] and "did you mean 'extra:Time Zone'?" in warnings[0]


def test_rules_on_reported_or_canonical_columns_are_not_warned() -> None:
    assert unknown_extra_columns(icp_with("extra:Time Zone"), {"Time Zone"}) == []
    assert unknown_extra_columns(icp_with("industry"), set()) == []


def test_the_store_reports_the_unmapped_columns_of_ingested_files(ingested: Workspace) -> None:
    with ingested.connect(read_only=True) as con:
        assert "Time Zone" in reported_extra_columns(con)


def test_check_warns_about_a_rule_on_a_column_no_file_has(ingested: Workspace) -> None:
    ingested.settings.icp = dump_icp(icp_with("extra:Timezone"))
    save_settings(ingested.settings, ingested.config_path)
    result = check_workspace(ingested.root)
    assert result.ok and result.errors == []
    assert len(result.warnings) == 1 and "'Timezone'" in result.warnings[0]


def test_icp_check_exits_0_with_warnings_and_1_with_strict_or_errors(
    ingested: Workspace,
) -> None:
    ingested.settings.icp = dump_icp(icp_with("extra:Timezone"))
    save_settings(ingested.settings, ingested.config_path)
    runner = CliRunner()
    plain = runner.invoke(app, ["check", "-w", str(ingested.root)])
    assert plain.exit_code == 0 and "warning:" in plain.output
    strict = runner.invoke(app, ["check", "-w", str(ingested.root), "--strict"])
    assert strict.exit_code == 1
    ingested.config_path.write_text("scorng: {}\n")
    broken = runner.invoke(app, ["check", "-w", str(ingested.root)])
    assert broken.exit_code == 1
    assert "did you mean 'scoring'?" in broken.output
    assert "Traceback" not in broken.output


def test_a_clean_workspace_checks_ok(ingested: Workspace) -> None:
    result = check_workspace(ingested.root)
    assert result.ok and result.warnings == []
    out = CliRunner().invoke(app, ["check", "-w", str(ingested.root)])
    assert out.exit_code == 0 and "ok" in out.output


@pytest.mark.parametrize(("attribute", "warned"), [("extra:Regoin", True), ("extra:Region", False)])
def test_derive_warns_about_a_hand_made_rule_on_a_column_no_file_has(
    tmp_path: Path, attribute: str, warned: bool
) -> None:
    ws = write_crm(tmp_path, 40, varied=True).ws
    ws.settings.icp = dump_icp(icp_with(attribute))
    save_settings(ws.settings, ws.config_path)
    warnings = Workspace.open(ws.root).derive().warnings
    missing = [w for w in warnings if "which no ingested file has" in w]
    if warned:
        assert len(missing) == 1 and "did you mean 'extra:Region'?" in missing[0]
    else:
        assert missing == []
