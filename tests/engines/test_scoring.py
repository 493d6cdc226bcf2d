"""The scoring model: reasons add up, intent decays inside its window, prospects score from a
file (safely for Excel), points refit on new outcomes, and the backtest refuses a leak."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import DemoCrm, DemoWorkspaces
from icpkit.cli.main import app
from icpkit.config import AnalysisSettings
from icpkit.engines.features import compute_features, decay
from icpkit.engines.score import apply_scorecard
from icpkit.engines.scorecard import build_scorecard
from icpkit.icp.model import ICP, IntentSignal
from icpkit.learn.points import closed_deals
from icpkit.store import connect
from icpkit.validate.backtest import BacktestError
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> tuple[Workspace, object]:
    """This module's copy of the derived demo workspace of 5,000 deals, seed 3."""
    derived = demo_workspace(5_000, 3, derived=True)
    return derived.copy(tmp_path_factory.mktemp("scoring") / "ws"), derived.files


@pytest.mark.slow
def test_every_score_is_its_base_plus_the_points_of_its_reasons(demo) -> None:
    ws, _ = demo
    icp = ws.current_icp()
    card = build_scorecard(icp, ws.settings.scoring)
    with ws.connect() as con:
        closed_deals(con)
        features = compute_features(con, icp, ws.settings.analysis)
    scores = apply_scorecard(card, features)
    assert scores.score.min() >= 0 and scores.score.max() <= 100
    for i in range(0, features.n, 7):
        reasons = scores.reasons(i)
        assert card.base_total + sum(r.points for r in reasons) == scores.score[i]
        for d, values in scores.subscores.items():
            in_dim = sum(r.points for r in reasons if r.dimension == d)
            assert card.base[d] + in_dim == values[i]
            assert 0 <= values[i] <= card.caps[d]


@pytest.mark.slow
def test_points_follow_the_planted_effects(demo) -> None:
    ws, _ = demo
    card = build_scorecard(ws.current_icp(), ws.settings.scoring)
    points = {rp.id: rp.points for rp in card.rules}
    assert points["employees-51-200"] > 0 and points["industry-software"] > 0
    assert points["tech-hubspot"] > 0
    assert points["industry-public-administration"] < 0
    # The planted effects are 1.0 (size) > 0.7 (HubSpot) log-odds; points keep that order.
    assert points["employees-51-200"] > points["tech-hubspot"]


def test_intent_decays_from_the_window_start_and_stops_at_its_edges() -> None:
    ages = np.array([np.nan, 60.0, 150.0, 240.0])
    assert decay(ages, 60, 90.0).tolist() == [0.0, 1.0, 0.5, 0.25]
    assert decay(ages, 60, None).tolist() == [0.0, 1.0, 1.0, 1.0]

    con = connect(":memory:")
    con.execute(
        "INSERT INTO accounts (account_key, origin) SELECT 'a' || i, 'record' FROM range(6) t(i)"
    )
    as_of = dt.date(2025, 10, 1)
    # Funding 59 (too fresh), 60 (first day), 540 (last day) and 541 days (too old) ago.
    for i, days in enumerate([59, 60, 540, 541]):
        day = as_of - dt.timedelta(days=days)
        con.execute(
            "INSERT INTO signals (signal_key, account_key, signal_type, detail, observed_at) "
            f"VALUES ('s{i}', 'a{i}', 'funding_round', '$12M Series A', TIMESTAMP '{day}')"
        )
    # A signal after the as-of date is the future: never counted.
    con.execute(
        "INSERT INTO signals VALUES ('s9', 'a4', 'funding_round', 'Series A', "
        "TIMESTAMP '2025-10-02', NULL, NULL, NULL, NULL, NULL)"
    )
    con.execute(
        "CREATE TEMP TABLE score_entities AS SELECT i::BIGINT AS entity_id, 'a' || i AS "
        f"account_key, DATE '{as_of}' AS as_of FROM range(6) t(i)"
    )
    signal = IntentSignal(
        id="funding",
        signal="funding_round",
        detail_in=["Series A"],
        window_days=(60, 540),
        source="human",
        reason="planted",
        points=20,
        half_life_days=240,
    )
    icp = ICP(derived_at=dt.datetime(2025, 10, 1), data_fingerprint="x", intent=[signal])
    features = compute_features(con, icp, AnalysisSettings())
    assert np.isnan(features.ages[0, 0]) and np.isnan(features.ages[3, 0])
    assert features.ages[1, 0] == 60 and features.ages[2, 0] == 540
    assert np.isnan(features.ages[4, 0])
    from icpkit.config import ScoringSettings

    scores = apply_scorecard(build_scorecard(icp, ScoringSettings()), features)
    contributions = scores.contributions[:, 0].tolist()
    # Full points on the first day, halved every 240 days: 20 * 0.5 ** (480 / 240) = 5.
    assert contributions == [0, 20, 5, 0, 0, 0]
    assert scores.reasons(2)[0].text == "Funding round Series A 540 days ago"


@pytest.mark.slow
def test_a_file_of_prospects_is_scored_with_reasons_and_excel_safe_names(
    demo, tmp_path: Path
) -> None:
    ws, _ = demo
    prospects = tmp_path / "prospects.csv"
    prospects.write_text(
        "Company name,Website URL,Number of Employees,Industry,Country/Region,Web Technologies\n"
        '"=HYPERLINK(""http://evil"",""x"")",evil.io,120,Software,US,HubSpot\n'
        "Plain Gov,gov.example,5000,Government Administration,US,\n"
        "No Size Inc,nosize.io,lots,Software,US,HubSpot\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    out = tmp_path / "scored.csv"
    result = runner.invoke(
        app, ["score", str(prospects), "-o", str(out), "-w", str(ws.root), "--as-of", "2025-10-01"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 3
    assert {r["customer"] for r in rows} == {"false"}
    evil = next(r for r in rows if "HYPERLINK" in r["name"])
    assert evil["name"].startswith("'=")  # Excel shows it as text, never runs it
    assert "Uses HubSpot" in evil["top_reasons"] and "Industry Software" in evil["top_reasons"]
    gov = next(r for r in rows if r["name"] == "Plain Gov")
    assert gov["route"] == "never" and "excluded" in gov["negative_reasons"]
    assert int(evil["score"]) > int(gov["score"])
    assert "lots" in result.output  # the unreadable employee count is reported, not dropped

    as_json = tmp_path / "scored.json"
    result = runner.invoke(app, ["score", str(prospects), "-o", str(as_json), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    for row in json.loads(as_json.read_text())["rows"]:
        told = f"{row['top_reasons']}; {row['negative_reasons']}"
        points = [int(p) for p in re.findall(r"\(([+-]\d+)\)(?:;|$)", told)]
        assert row["base"] + sum(points) == row["score"]
    parquet = tmp_path / "scored.parquet"
    assert (
        runner.invoke(
            app, ["score", str(prospects), "-o", str(parquet), "-w", str(ws.root)]
        ).exit_code
        == 0
    )
    import pyarrow.parquet as pq

    assert pq.read_table(parquet).num_rows == 3


@pytest.mark.slow
def test_scoring_the_crm_itself_flags_exactly_the_existing_customers(demo) -> None:
    ws, files = demo
    with files.company_truth.open(encoding="utf-8") as fh:
        customers = {r["Record ID"] for r in csv.DictReader(fh) if r["customer"] == "1"}
    scored = ws.score_file(files.companies, as_of=dt.date(2025, 10, 1))
    flagged = {r["record_id"] for r in scored.rows() if r["customer"]}
    # Records without a domain in the file are still known by their CRM id.
    assert flagged == customers


@pytest.mark.slow
def test_icp_backtest_prints_models_tiers_and_calibration(demo) -> None:
    ws, _ = demo
    result = CliRunner().invoke(app, ["backtest", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    for heading in ("ROC AUC", "icpkit scorecard", "LightGBM", "optbinning", "Tiers on the test"):
        assert heading in result.output
    assert "Tier A wins" in result.output and "Calibration" in result.output


def test_scoring_before_an_icp_exists_says_what_to_do(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "empty")
    prospects = tmp_path / "p.csv"
    prospects.write_text("Company name,Website URL\nAcme,acme.io\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(prospects), "-w", str(ws.root)])
    assert result.exit_code == 1 and "icp derive" in result.output
    result = runner.invoke(app, ["score", str(tmp_path / "nope.csv"), "-w", str(ws.root)])
    assert result.exit_code == 1 and "no such file" in result.output
    result = runner.invoke(app, ["backtest", "-w", str(ws.root)])
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.slow
def test_calibrate_refits_points_on_new_outcomes_and_versions_them(demo, tmp_path: Path) -> None:
    ws, _ = demo
    assert not ws.calibrate().written  # same outcomes, same points
    before = ws.current_icp()
    with ws.connect() as con:  # sales starts losing every Software deal
        con.execute(
            "UPDATE deals SET outcome = 'lost' WHERE outcome = 'won' AND account_key IN "
            "(SELECT account_key FROM accounts WHERE industry = 'Software')"
        )
    result = ws.calibrate(note="Q3 review")
    assert result.written and result.version == before.version + 1
    software = next(c for c in result.icp.fit if c.id == "industry-software")
    assert software.weight < next(c for c in before.fit if c.id == "industry-software").weight
    assert any("industry-software" in line and "weight" in line for line in result.changes)
    assert "Q3 review" in (ws.root / ".icp" / "CHANGELOG.md").read_text()


@pytest.mark.slow
def test_the_backtest_refuses_a_field_filled_in_after_close(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(3_000, 5)
    since = {}
    with files.company_truth.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            since[row["Record ID"]] = row["customer_since"][:4]
    leaky = tmp_path / "companies_with_since.csv"
    with (
        files.companies.open(encoding="utf-8-sig", newline="") as src,
        leaky.open("w", encoding="utf-8", newline="") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow([*next(reader), "Customer Since"])
        for row in reader:
            writer.writerow([*row, since.get(row[0], "")])
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest([leaky, files.deals, files.signals]).ok
    with pytest.raises(BacktestError, match="extra:Customer Since"):
        ws.backtest(challengers=False, n_boot=20)
    result = ws.backtest(challengers=False, n_boot=20, allow_leaks=True)
    assert [leak.attribute for leak in result.leaks] == ["extra:Customer Since"]
    derived = ws.derive()
    assert any("Customer Since" in w for w in derived.warnings)


@pytest.mark.slow
def test_the_scoring_path_imports_no_challenger_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, icpkit.engines.prospects, icpkit.learn.points; "
        "print(sorted(m for m in ('lightgbm', 'optbinning', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
