"""When no rule passes, derive says so in one sentence, tells what these data could detect
and what a 1.5x lift would take, and marks the version empty; scoring is then flat."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import pytest
import yaml
from typer.testing import CliRunner

from icpkit.analysis.lift import LiftResult, LiftRow
from icpkit.cli.main import app
from icpkit.config import AnalysisSettings
from icpkit.engines.scorecard import build_scorecard
from icpkit.icp.model import dump_icp, load_icp
from icpkit.learn.derive import Detectable, _min_lift, detectable
from small_crm import write_crm

HEADLINE = (
    "No ICP can be derived from these data: no attribute value separates won from lost "
    "deals at the 5% false-discovery rate."
)


def _power(lift: float, accounts: int, base: float, alpha: float) -> float:
    """Normal-approximation power of a cut of a fifth of the accounts at ``lift`` x base."""
    m, rest = 0.2 * accounts, 0.8 * accounts
    inside = lift * base
    se = math.sqrt(inside * (1 - inside) / m + base * (1 - base) / rest)
    return NormalDist().cdf((inside - base) / se - NormalDist().inv_cdf(1 - alpha / 2))


def test_minimum_detectable_lift_has_eighty_percent_power() -> None:
    # 1,000 accounts at a 30% win rate, one test: worked by hand, 1.3x is short
    # (0.09 < 2.80 x 0.038) and 1.4x enough (0.12 > 2.80 x 0.0385).
    lift = _min_lift(1000, 0.3, 0.05)
    assert lift is not None and 1.3 < lift < 1.4
    assert math.isclose(_power(lift, 1000, 0.3, 0.05), 0.8, abs_tol=0.005)
    # Fewer accounts, or a stricter level across many tests, need a larger lift.
    smaller = _min_lift(200, 0.3, 0.05)
    stricter = _min_lift(1000, 0.3, 0.05 / 40)
    assert smaller is not None and stricter is not None
    assert smaller > lift and stricter > lift


def test_no_lift_is_detectable_on_a_handful_of_accounts() -> None:
    assert _min_lift(3, 0.3, 0.05) is None  # a fifth of 3 accounts is no cut


def _result(accounts: int, closed: int, won: int, tests: int) -> LiftResult:
    row = LiftRow("industry", "x", "fit", "categorical", 10, 5, 5, 0.5, (0.3, 0.7), 0.5,
                  0.1, 0.1, 1.0, (0.5, 2.0), 0.0, (-0.2, 0.2), 0.6, 0.0, "z")  # fmt: skip
    rows = [row] * tests
    return LiftResult(rows, {}, closed, won, accounts, won / closed)


def test_more_closed_deals_for_a_one_and_a_half_lift_are_just_enough() -> None:
    settings = AnalysisSettings()
    found = detectable(_result(80, 160, 48, tests=10), settings)
    assert found.tests == 10 and found.more_closed_deals is not None
    needed_accounts = 80 + math.ceil(found.more_closed_deals / 2)  # two deals per account
    alpha = settings.alpha / 10
    assert _power(1.5, needed_accounts, 0.3, alpha) >= 0.79
    assert _power(1.5, int(needed_accounts * 0.9), 0.3, alpha) < 0.8


def test_a_one_and_a_half_lift_cannot_exist_above_two_thirds_won() -> None:
    found = detectable(_result(80, 160, 120, tests=5), AnalysisSettings())
    assert found.more_closed_deals is None
    assert any("cannot exist at a 75% win rate" in s for s in found.sentences())


@pytest.mark.slow
def test_derive_without_a_passing_rule_says_it_in_one_sentence(tmp_path: Path) -> None:
    crm = write_crm(tmp_path, 80, varied=True)
    result = crm.ws.derive()
    assert not (result.icp.fit or result.icp.intent or result.icp.exclusions)
    assert result.nothing[0] == HEADLINE
    said = " ".join(result.nothing)
    assert "80 accounts" in said and "50% win rate" in said
    assert "must win at least" in said or "no lift" in said
    assert "more closed deals" in said or "cannot exist" in said
    # The version is marked empty, in the saved file and in icp.yaml.
    assert result.icp.empty
    saved = yaml.safe_load((crm.ws.root / ".icp" / "versions").glob("*").__next__().read_text())
    assert saved.get("empty") is True
    assert crm.ws.current_icp() is not None and crm.ws.current_icp().empty  # type: ignore[union-attr]
    # Scoring is flat.
    card = build_scorecard(result.icp, crm.ws.settings.scoring)
    assert card.flat


@pytest.mark.slow
def test_icp_derive_prints_the_sentence_first(tmp_path: Path) -> None:
    crm = write_crm(tmp_path, 80, varied=True)
    out = CliRunner().invoke(app, ["derive", "-w", str(crm.ws.root)], env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert lines[0] == HEADLINE
    assert "minimum" not in lines[0] and "nan" not in out.output
    assert any("more closed deals" in line or "cannot exist" in line for line in lines[1:4])


@pytest.mark.slow
def test_icps_with_rules_and_old_files_carry_no_empty_marker(tmp_path: Path) -> None:
    crm = write_crm(tmp_path, 80, varied=True)
    icp = crm.ws.derive().icp
    data = dump_icp(icp)
    data.pop("empty")
    old = load_icp(data, source="old file")  # written before the marker existed
    assert old.empty is False
    assert "empty" not in dump_icp(old)


def test_detectable_keeps_its_numbers() -> None:
    found = Detectable(100, 200, 0.3, 12, 0.05, 1.8, 900)
    assert found.sentences()[0] == HEADLINE
    assert "1.80x" in found.sentences()[1] and "900 more closed deals" in found.sentences()[2]
