"""Analysis benchmark: won vs lost over every attribute, and the ICP derivation.

For each size, in one run: generate the demo CRM, ingest it (not timed here; see
bench/ingest.py), then time in separate processes

- ``icpkit frame``: the analysis frame alone (every closed deal cut by every attribute,
  counted per account, with the signals' ages);
- ``icpkit lift``: the analysis frame plus the cluster-robust won-vs-lost table with BH;
- ``icpkit derive``: the same plus the ICP, its version and icp.yaml;
- ``pandas pivot``: what a user would otherwise do: one DataFrame of closed deals joined to
  their accounts, then per attribute a ``groupby`` win rate and a chi-square test per value
  (no clustering, no shrinkage, no intent windows, no FDR control).

The machine may be shared: besides the wall-clock seconds each step prints the CPU seconds
its process used (all threads), the part of them spent in the kernel, its minor page faults
(on a virtual machine the kernel's time follows them) and the 1-minute load average before
it. With ``--rounds N`` the steps run N times, in reverse order every other round, and each
step is summed up by its median and range; the ratios are those of the medians.

Usage: ``python bench/analyze.py [--deals 100000 1000000] [--seed 7] [--rounds 1]
[--out bench/out]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from measure import measure_step, median, round_order, spread

HERE = Path(__file__).resolve().parent

PREPARE = """
from pathlib import Path
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
files = make_crm({n}, {seed}, Path({root!r}) / "data")
ws = Workspace.init(Path({root!r}) / "ws")
assert ws.ingest(files.exports()).ok
with ws.connect() as con:
    print(con.execute(
        "SELECT count(*) FROM deals WHERE outcome IN ('won', 'lost') AND NOT is_expansion"
    ).fetchall()[0][0])
"""

# Each step's last line: what it counted (attributes and values, or criteria and 0).
FRAME = """
from icpkit.analysis.frame import build_frame
from icpkit.analysis.tiers import assign_tiers
from icpkit.workspace import Workspace
ws = Workspace.open({ws!r})
with ws.connect(read_only=True) as con:
    frame = build_frame(con, ws.settings.analysis, assign_tiers(con, ws.settings.tiers).tier_of())
print(len(frame.attributes), sum(len(c) for c in frame.cuts.values()))
"""

LIFT = """
from icpkit.workspace import Workspace
result = Workspace.open({ws!r}).lift()
print(len({{r.attribute for r in result.rows}}), len(result.rows))
"""

DERIVE = """
from icpkit.workspace import Workspace
ws = Workspace.open({ws!r})
result = ws.derive()
print(len(result.icp.fit) + len(result.icp.intent) + len(result.icp.exclusions), 0)
"""

PANDAS = """
import duckdb
from scipy.stats import chi2_contingency
con = duckdb.connect({db!r}, read_only=True)
df = con.execute(
    "SELECT d.outcome = 'won' AS won, a.employees, a.revenue, a.industry, a.country, "
    "a.technologies, a.founded_year, a.extra FROM deals d JOIN accounts a USING (account_key) "
    "WHERE d.outcome IN ('won', 'lost') AND NOT d.is_expansion"
).df()
import pandas as pd
df["employees"] = pd.cut(df["employees"], [0, 10, 50, 200, 500, 1000, 1e9])
df["revenue"] = pd.cut(df["revenue"], [0, 1e6, 1e7, 5e7, 1e8, 1e9, 1e15])
tools = sorted({{t for ts in df["technologies"].dropna() for t in ts}})
for tool in tools:
    has = lambda ts, t=tool: t in list(ts) if hasattr(ts, "__iter__") else None
    df["tech:" + tool] = df["technologies"].map(has)
columns = ["employees", "revenue", "industry", "country"] + ["tech:" + t for t in tools]
tests = 0
for column in columns:
    table = df.groupby(column, observed=True)["won"].agg(["sum", "count"])
    for value, row in table.iterrows():
        rest = df[df[column] != value]["won"]
        chi2_contingency([[row["sum"], row["count"] - row["sum"]],
                          [rest.sum(), len(rest) - rest.sum()]])
        tests += 1
print(len(columns), tests)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "analyze")
    parser.add_argument("--rounds", type=int, default=1, help="times each step runs")
    args = parser.parse_args()

    print(
        "| deals | closed | round | step | attributes | values tested | seconds | CPU seconds "
        "| of which system | page faults | peak memory | load before |"
    )
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    report = []
    for n in args.deals:
        root: Path = args.out / str(n)
        shutil.rmtree(root, ignore_errors=True)
        # Set-up in its own process too: a child inherits its parent's peak RSS figure.
        closed = int(measure_step(PREPARE.format(root=str(root), n=n, seed=args.seed)).last)
        ws = root / "ws"
        templates = {
            "icpkit frame": FRAME,
            "icpkit lift": LIFT,
            "icpkit derive": DERIVE,
            "pandas pivot + chi-square": PANDAS,
        }
        for round_no, name in (
            (r, name) for r in range(args.rounds) for name in round_order(list(templates), r)
        ):
            template = templates[name]
            # The machine may be shared: the 1-minute load average says how busy it was.
            load = os.getloadavg()[0]
            step = measure_step(template.format(ws=str(ws), db=str(ws / "workspace.duckdb")))
            attrs, values = step.last.split()
            report.append(
                {
                    "deals": n,
                    "closed": closed,
                    "round": round_no + 1,
                    "step": name,
                    "seconds": step.seconds,
                    "cpu_seconds": round(step.cpu_seconds, 2),
                    "system_seconds": round(step.system_seconds, 2),
                    "page_faults": step.page_faults,
                    "peak_mib": step.peak_mib,
                    "attributes": int(attrs),
                    "values": int(values),
                    "load_before": round(load, 2),
                }
            )
            shown = values if name != "icpkit derive" else "-"
            label = "criteria" if name == "icpkit derive" else "attributes"
            print(
                f"| {n:,} | {closed:,} | {round_no + 1} | {name} "
                f"| {attrs} {label if label == 'criteria' else ''}"
                f" | {shown} | {step.seconds:.1f} | {step.cpu_seconds:.1f}"
                f" | {step.system_seconds:.1f} | {step.page_faults:,}"
                f" | {step.peak_mib:,.0f} MiB | {load:.2f} |",
                flush=True,
            )
    # The machine may be shared: each icpkit step against the pandas pivot of the same run.
    for n in args.deals:
        if args.rounds > 1:
            for name in templates:
                taken = [
                    float(r["seconds"]) for r in report if (r["deals"], r["step"]) == (n, name)
                ]
                print(f"{n:,} deals: {name} {spread(taken)}")
        for unit, key in (("time", "seconds"), ("CPU time", "cpu_seconds")):
            took = {
                name: median(
                    [float(r[key]) for r in report if (r["deals"], r["step"]) == (n, name)]
                )
                for name in templates
            }
            pandas = took["pandas pivot + chi-square"]
            print(
                f"{n:,} deals: frame {took['icpkit frame'] / pandas:.2f}x, "
                f"lift {took['icpkit lift'] / pandas:.2f}x, "
                f"derive {took['icpkit derive'] / pandas:.2f}x the pandas pivot's {unit}"
            )
    (args.out / "analyze.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
