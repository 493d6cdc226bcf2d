"""``icp analyze clusters``: candidate ICPs from won customers, in sentences and in JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspace
from icpkit.cli.main import app
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def clusters(ws: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["analyze", "clusters", "-w", str(ws), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.slow  # the shared two-line workspace takes about a minute to build
def test_two_product_lines_read_as_two_groups_each_worth_an_icp(two_lines: DemoWorkspace) -> None:
    code, out = clusters(two_lines.root)
    assert code == 0, out
    text = " ".join(out.split())
    assert "2 groups" in text
    assert text.count("Deserves an ICP of its own") == 2
    assert "industry Financial Services" in text
    assert "Win rate" in text and "Median ACV" in text and "Churn" in text
    assert not NAN.search(text)


@pytest.mark.slow  # the shared two-line workspace takes about a minute to build
def test_json_holds_every_group_with_its_rates_and_traits(two_lines: DemoWorkspace) -> None:
    code, out = clusters(two_lines.root, "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["command"] == "analyze clusters"
    assert doc["groups"] == 2 == len(doc["rows"])
    assert sum(r["accounts"] for r in doc["rows"]) == doc["customers"]
    for row in doc["rows"]:
        assert 0 <= row["win_rate_low"] <= row["win_rate"] <= row["win_rate_high"] <= 1
        assert row["median_acv_low"] <= row["median_acv"] <= row["median_acv_high"]
        assert row["own_icp"] is True
        assert row["traits"], row
        for t in row["traits"]:
            assert t["share"] > t["rest_share"]
    banks = [r for r in doc["rows"] if r["traits"][0]["value"] == "Financial Services"]
    assert len(banks) == 1
    # Line 2 sells 1.6x larger deals to larger companies: its group's median ACV is higher.
    other = next(r for r in doc["rows"] if r is not banks[0])
    assert banks[0]["median_acv"] > other["median_acv"]


def test_an_empty_workspace_says_there_is_nothing_to_group(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws")
    code, out = clusters(tmp_path / "ws")
    assert code == 0, out
    assert "No won customers yet" in out
    code, out = clusters(tmp_path / "ws", "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert (doc["customers"], doc["groups"], doc["rows"]) == (0, 1, [])


def test_a_small_crm_is_one_group_without_nan(tmp_path: Path) -> None:
    files = make_crm(200, 3, tmp_path / "crm")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    code, out = clusters(ws.root)
    assert code == 0, out
    assert "one group" in " ".join(out.split())
    assert not NAN.search(out)
    code, out = clusters(ws.root, "--format", "json")
    assert code == 0, out
    assert "NaN" not in out
    assert json.loads(out)["groups"] == 1
