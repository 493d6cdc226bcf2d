"""``icp derive --by`` / ``--icp`` and ``icp tam`` / ``icp lookalike --icp``: several ICPs
in one workspace from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from helpers import DemoWorkspace, run_query
from icpkit.cli.main import app
from icpkit.operate.tam import profile_text
from two_lines import two_line_workspace

runner = CliRunner()


def icp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


def test_derive_with_an_undeclared_icp_fails_in_one_line(tmp_path: Path) -> None:
    code, out = icp("init", str(tmp_path / "ws"))
    assert code == 0, out
    code, out = icp("derive", "-w", str(tmp_path / "ws"), "--icp", "platform")
    assert code == 1
    assert "no ICP named 'platform' in icp.yaml (named ICPs: none declared)" in out
    assert "Traceback" not in out


def test_derive_by_an_unknown_field_fails_naming_the_fields(tmp_path: Path) -> None:
    icp("init", str(tmp_path / "ws"))
    code, out = icp("derive", "-w", str(tmp_path / "ws"), "--by", "region")
    assert code == 1
    assert "cannot derive by 'region': one of pipeline, motion" in out


def test_derive_takes_by_or_icp_not_both(tmp_path: Path) -> None:
    icp("init", str(tmp_path / "ws"))
    code, out = icp("derive", "-w", str(tmp_path / "ws"), "--by", "pipeline", "--icp", "a")
    assert code == 1 and "not both" in out


@pytest.mark.slow
def test_derive_by_pipeline_says_which_pipelines_were_skipped_and_why(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    closed = dict(
        run_query(
            ws,
            "SELECT pipeline, count(*) FROM deals WHERE outcome IN ('won', 'lost') "
            "AND NOT is_expansion AND account_key IS NOT NULL GROUP BY 1",
        )
    )
    (big, _), (small, n_small) = sorted(closed.items(), key=lambda kv: -int(kv[1]))
    # Between the two: the smaller pipeline has too few closed deals for an ICP of its own.
    config = tmp_path / "ws" / "icp.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["analysis"]["min_closed_deals"] = int(n_small) + 1
    data["icps"] = []
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, out = icp("derive", "-w", str(tmp_path / "ws"), "--by", "pipeline")
    assert code == 0, out
    flat = " ".join(out.split())
    assert f"skipped: pipeline '{small}': {int(n_small):,} closed deals, fewer than" in flat
    named = yaml.safe_load(config.read_text(encoding="utf-8"))["icps"]
    assert [n["deals"]["pipeline"] for n in named] == [[big]]
    assert f"ICP {named[0]['name']}" in flat


@pytest.mark.slow
def test_tam_of_a_named_icp_sizes_its_own_profile(two_lines: DemoWorkspace, tmp_path: Path) -> None:
    ws = two_lines.ws
    universe = str(two_lines.files.companies)
    shown = {}
    for name in [n.name for n in ws.settings.icps]:
        written = tmp_path / f"{name}.json"
        args = ("--icp", name, "--format", "json", "--out", str(written))
        code, out = icp("tam", universe, "-w", str(ws.root), *args)
        assert code == 0, out
        shown[name] = json.loads(written.read_text(encoding="utf-8"))["profile"]
        assert shown[name] == list(profile_text(ws.named_icp(name)))
    assert len({tuple(p) for p in shown.values()}) == len(shown)  # each line its own profile


@pytest.mark.slow
def test_tam_of_an_icp_not_derived_yet_says_so(two_lines: DemoWorkspace, tmp_path: Path) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    config = tmp_path / "ws" / "icp.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["icps"].append({"name": "upsell", "deals": {"motion": "expansion"}})
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, out = icp("tam", str(two_lines.files.companies), "-w", str(ws.root), "--icp", "upsell")
    assert code == 1
    assert "'upsell' is declared but not derived yet: run `icp derive --icp upsell`" in out


@pytest.mark.slow
def test_lookalikes_of_a_named_icp_are_judged_by_its_own_customers(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.ws
    for named in ws.settings.icps:
        assert named.deals.pipeline is not None
        customers = {
            str(k)
            for (k,) in run_query(
                ws,
                "SELECT DISTINCT account_key FROM deals WHERE outcome = 'won' "
                f"AND NOT is_expansion AND pipeline = '{named.deals.pipeline[0]}'",
            )
        }
        hits = ws.lookalikes(two_lines.files.companies, top=15, k=3, icp=named.name)
        assert hits
        neighbours = {n.account_key for h in hits for n in h.neighbours}
        assert neighbours <= customers, named.name
    written = tmp_path / "lookalikes.json"
    code, out = icp(
        "lookalike", str(two_lines.files.companies), "-w", str(ws.root), "--top", "5",
        "--icp", ws.settings.icps[0].name, "--format", "json", "--out", str(written),
    )  # fmt: skip
    assert code == 0, out
    assert len(json.loads(written.read_text(encoding="utf-8"))["rows"]) == 5


@pytest.mark.slow
def test_score_shows_each_accounts_best_icp_and_writes_every_icps_columns(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.ws
    universe = str(two_lines.files.companies)
    result = runner.invoke(app, ["score", universe, "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "best ICP" in result.output
    written = tmp_path / "scored.json"
    code, out = icp("score", universe, "-w", str(ws.root), "-o", str(written))
    assert code == 0, out
    rows = json.loads(written.read_text(encoding="utf-8"))["rows"]
    names = [n.name for n in ws.settings.icps]
    assert {r["best_icp"] for r in rows} <= {*names, None}
    assert all(f"tier_{n}" in rows[0] and f"fit_{n}" in rows[0] for n in names)
