"""Scorecard benchmark: accuracy against the challengers, and the cost of fitting and scoring.

For each size and seed, in one run: generate the demo CRM and ingest it, then in separate
processes

- ``derive``: the ICP with its fitted points (lift, derivation, the joint model, pruning);
- ``backtest``: derive and fit on the older deals, score the newer, and fit the challengers
  (equal weights, firmographics-only logistic, optbinning, LightGBM) on the same split, with
  the generator's true win probability as the ceiling;
- ``score``: ``icp score`` on the companies export (every company of the CRM).

Usage: ``python bench/backtest.py [--deals 5000 50000] [--seeds 7 3] [--out bench/out]``
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from measure import run_step

HERE = Path(__file__).resolve().parent

PREPARE = """
from pathlib import Path
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
files = make_crm({n}, {seed}, Path({root!r}) / "data")
ws = Workspace.init(Path({root!r}) / "ws")
assert ws.ingest(files.exports()).ok
print(files.n_companies)
"""

DERIVE = """
from icpkit.workspace import Workspace
icp = Workspace.open({ws!r}).derive().icp
print(len(icp.fit) + len(icp.exclusions) + len(icp.intent))
"""

BACKTEST = """
import json
from pathlib import Path
from icpkit.workspace import Workspace
import csv
with open(Path({root!r}) / "data" / "truth" / "deal_truth.csv", encoding="utf-8") as fh:
    truth = {{f"hubspot:{{r['Record ID']}}": float(r["p_win"]) for r in csv.DictReader(fh)}}
r = Workspace.open({ws!r}).backtest(reference=truth, n_boot=200)
print(json.dumps({{
    "cutoff": str(r.cutoff), "train": r.train_deals, "test": r.test_deals, "wins": r.test_wins,
    "models": [[m.model, m.auc.value, m.auc.low, m.auc.high, m.pr_auc.value, m.seconds]
               for m in r.models],
    "tier_lift": [r.tier_lift.value, r.tier_lift.low, r.tier_lift.high],
    "top_tier_wins": r.top_tier_wins, "brier": r.brier,
    "cycles": {{t.tier: t.median_cycle_days for t in r.tiers}},
}}))
"""

SCORE = """
import datetime as dt
from pathlib import Path
from icpkit.workspace import Workspace
scored = Workspace.open({ws!r}).score_file(
    Path({root!r}) / "data" / "companies.csv", as_of=dt.date(2025, 10, 1))
rows = scored.rows()
print(len(rows))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, nargs="+", default=[5_000, 50_000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    results = []
    for n in args.deals:
        for seed in args.seeds:
            root = args.out / f"backtest-{n}-{seed}"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            ws = str(root / "ws")
            run_step(PREPARE.format(n=n, seed=seed, root=str(root)))
            derive_s, derive_mb, rules = run_step(DERIVE.format(ws=ws))
            back_s, back_mb, line = run_step(BACKTEST.format(ws=ws, root=str(root)))
            score_s, score_mb, scored = run_step(SCORE.format(ws=ws, root=str(root)))
            result = {
                "deals": n,
                "seed": seed,
                "rules": int(rules),
                "derive_s": round(derive_s, 2),
                "derive_peak_mib": round(derive_mb),
                "backtest_s": round(back_s, 2),
                "backtest_peak_mib": round(back_mb),
                "scored_accounts": int(scored),
                "score_s": round(score_s, 2),
                "score_rows_per_s": round(int(scored) / score_s),
                "score_peak_mib": round(score_mb),
                **json.loads(line),
            }
            results.append(result)
            print(json.dumps(result, indent=1))
    for r in results:
        print(
            f"\n{r['deals']:,} deals, seed {r['seed']}: cut-off {r['cutoff']}, "
            f"{r['train']:,} train / {r['test']:,} test deals ({r['wins']:,} won)"
        )
        ours = r["models"][0][1]
        print("| model | ROC AUC (95% CI) | PR AUC | vs scorecard | fit s |")
        print("| --- | --- | --- | --- | --- |")
        for name, auc, low, high, pr, secs in r["models"]:
            print(
                f"| {name} | {auc:.3f} ({low:.3f}-{high:.3f}) | {pr:.3f} | "
                f"{auc - ours:+.3f} | {secs:.1f} |"
            )
        lift = r["tier_lift"]
        print(
            f"tier A / C-D lift {lift[0]:.2f}x ({lift[1]:.2f}-{lift[2]:.2f}); A-B hold "
            f"{r['top_tier_wins']:.0%} of wins; median cycle A {r['cycles']['A']:.0f}d vs "
            f"D {r['cycles']['D']:.0f}d; Brier {r['brier']:.3f}"
        )
        print(
            f"derive {r['derive_s']}s ({r['derive_peak_mib']} MiB), backtest "
            f"{r['backtest_s']}s ({r['backtest_peak_mib']} MiB), icp score "
            f"{r['scored_accounts']:,} accounts in {r['score_s']}s "
            f"({r['score_rows_per_s']:,} rows/s, {r['score_peak_mib']} MiB)"
        )


if __name__ == "__main__":
    main()
