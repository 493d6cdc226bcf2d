"""With an ICP that has no rules, TAM and lookalikes say that nothing discriminates instead
of presenting a TAM or a ranking as if they meant something."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.engines.scorecard import NO_RULES
from icpkit.operate.lookalike import NothingSeparates
from icpkit.operate.tam import NOTHING_DISCRIMINATES
from small_crm import SmallCrm, write_crm, write_universe

ACCOUNTS = 80


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> SmallCrm:
    crm = write_crm(tmp_path_factory.mktemp("flat"), ACCOUNTS)  # every account alike
    icp = crm.ws.derive().icp
    assert not (icp.fit or icp.intent or icp.exclusions)
    return crm


@pytest.fixture(scope="module")
def universe(crm: SmallCrm) -> Path:
    return write_universe(crm.ws.root.parent / "universe.parquet", crm, ACCOUNTS, 50)


@pytest.mark.slow
def test_the_tam_of_an_icp_without_rules_is_not_sized(crm: SmallCrm, universe: Path) -> None:
    result = crm.ws.tam(universe)
    assert not result.discriminates
    assert result.warnings == [NOTHING_DISCRIMINATES]
    assert NOTHING_DISCRIMINATES.startswith(NO_RULES)
    assert result.current.universe == ACCOUNTS + 50
    assert result.current.market == ACCOUNTS + 50  # no boundary leaves anyone out


def test_the_tam_command_shows_the_market_but_no_tam_number(crm: SmallCrm, universe: Path) -> None:
    result = CliRunner().invoke(app, ["tam", str(universe), "-w", str(crm.ws.root)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "not computable: the ICP has no rules" in text
    assert "the ICP has no rules: every account scores the same" in text
    assert "route " not in text and "tier A" not in text


def test_a_what_if_on_an_icp_without_rules_says_there_is_no_range(
    crm: SmallCrm, universe: Path
) -> None:
    result = CliRunner().invoke(
        app, ["tam", str(universe), "-w", str(crm.ws.root), "--widen", "employees=20-500"]
    )
    assert result.exit_code == 1
    assert "no positive range criterion on employees" in " ".join(result.output.split())


def test_lookalikes_of_an_icp_without_rules_are_not_ranked(crm: SmallCrm, universe: Path) -> None:
    with pytest.raises(NothingSeparates, match="the ICP has no rules"):
        crm.ws.lookalikes(universe, top=5)


def test_the_lookalike_command_says_why_it_lists_nobody_and_succeeds(
    crm: SmallCrm, universe: Path
) -> None:
    result = CliRunner().invoke(app, ["lookalike", str(universe), "-w", str(crm.ws.root)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "the ICP has no rules" in text and "no lookalikes are ranked" in text
    assert "new0" not in text


def test_the_score_command_warns_that_every_account_scores_the_same(crm: SmallCrm) -> None:
    result = CliRunner().invoke(app, ["score", str(crm.companies), "-w", str(crm.ws.root)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert NO_RULES in text
    assert "automated_nurture 80" in text and "disqualify" not in text
