"""`icp derive` with nothing to learn from (no deals, none closed, none linked to an
account) fails with the reason and writes no version; with closed deals but no rule that
passes, it writes one and says plainly that no rule passed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.learn.derive import NoUsableDeals
from icpkit.workspace import Workspace
from small_crm import write_crm

DEALS = "Record ID,Deal Stage,Amount,Create Date,Close Date\n"


def workspace(tmp_path: Path, deals: str | None) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    if deals is not None:
        path = tmp_path / "deals.csv"
        path.write_text(DEALS + deals, encoding="utf-8")
        assert ws.ingest([path]).ok
    return ws


def no_version_written(ws: Workspace) -> bool:
    versions = ws.root / ".icp" / "versions"
    return not (versions.exists() and any(versions.iterdir())) and ws.current_icp() is None


def test_derive_on_deals_without_an_account_exits_non_zero_and_writes_no_version(
    tmp_path: Path,
) -> None:
    ws = workspace(tmp_path, "1,Closed Won,100,2024-01-01,2024-02-01\n"
                             "2,Closed Lost,100,2024-01-01,2024-02-01\n")  # fmt: skip
    result = CliRunner().invoke(app, ["derive", "-w", str(ws.root)])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "none of the 2 deals is linked to an account" in text
    assert "Traceback" not in text
    assert no_version_written(Workspace.open(ws.root))


@pytest.mark.parametrize(
    ("deals", "reason"),
    [
        (None, "the workspace holds no deals"),
        ("1,Appointment Scheduled,100,2024-01-01,\n", "the only deal is not closed"),
        ("1,Closed Won,100,2024-01-01,2024-02-01\n", "the only deal is not linked"),
    ],
)
def test_derive_with_nothing_to_learn_from_says_why(
    tmp_path: Path, deals: str | None, reason: str
) -> None:
    ws = workspace(tmp_path, deals)
    with pytest.raises(NoUsableDeals, match=reason):
        ws.derive()
    assert no_version_written(ws)


@pytest.mark.slow
def test_closed_deals_without_a_passing_rule_write_a_version_and_say_so(tmp_path: Path) -> None:
    crm = write_crm(tmp_path, 80)  # every account alike
    result = crm.ws.derive()
    assert result.written and result.version == 1
    [said] = [w for w in result.warnings if w.startswith("no rule passed: ")]
    assert "on 160 closed deals (80 won)" in said
