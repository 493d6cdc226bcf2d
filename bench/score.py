"""Scoring benchmark: ``icp score`` on millions of prospects against what a user would
otherwise write, on the same rows and the same scorecard.

In one run:

- prepare: a demo workspace (20,000 deals) with its derived ICP, and a Parquet file of N
  prospect companies in the scorecard's input layout, drawn from the demo's distributions
  (the first ones are the CRM's own companies, so their signals count as intent);
- ``icp score``: ``Workspace.score_file(prospects.parquet, out=scored.parquet)``: the
  compiled SELECT in DuckDB, reasons included, streamed to Parquet;
- ``bare DuckDB copy``: the same Parquet file copied to Parquet by DuckDB with the same
  compression and nothing computed: the floor of any scorer that reads and writes the file;
- ``pandas vectorized``: the same points, tiers and routes with pandas/NumPy column
  operations (no reasons: string reasons per row are where pandas gives up);
- ``pandas row-wise``: ``DataFrame.apply`` of the Python reference scorer, one row at a time,
  on a sample (the rate is what matters; all N rows would take hours);
- ``optbinning Scorecard.score``: optbinning's own scorecard fitted on the workspace's deals
  over the same attributes, scoring the same prospects (attribute labels prepared in DuckDB,
  not timed);

each in a fresh process, with its wall time, rows/s and peak RSS.

Usage: ``python bench/score.py [--rows 10000000] [--sample 100000] [--out bench/out]
[--floor-only]`` (``--floor-only``: ``icp score`` and the bare copy, no challengers)
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from measure import run_step

HERE = Path(__file__).resolve().parent

PREPARE = """
import datetime as dt
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
from icpkit.demo import make_crm
from icpkit.demo import truth as T
from icpkit.workspace import Workspace
root = Path({root!r})
files = make_crm(20_000, 7, root / "data")
ws = Workspace.init(root / "ws")
assert ws.ingest(files.exports()).ok
ws.derive()
known = [l.split(",")[2].strip('"') for l in open(files.company_truth).read().splitlines()[1:]]
rng = np.random.default_rng(11)
writer = None
n, chunk, made = {rows}, 1_000_000, 0
while made < n:
    m = min(chunk, n - made)
    employees = np.clip(np.exp(rng.normal(np.log(T.EMP_MEDIAN), T.EMP_SIGMA, m)), 1, T.EMP_MAX)
    industry = rng.choice(np.array(T.INDUSTRIES), m, p=np.array(T.INDUSTRY_P) / sum(T.INDUSTRY_P))
    country = rng.choice(np.array(T.COUNTRIES), m, p=np.array(T.COUNTRY_P) / sum(T.COUNTRY_P))
    has = rng.random((m, len(T.TOOLS))) < np.array(T.TOOL_P)
    has[:, 0] |= (industry == "Software") & (rng.random(m) < T.HUBSPOT_P_SOFTWARE)
    tools = np.array(T.TOOLS, dtype=object)
    counts = has.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    flat = np.broadcast_to(tools, has.shape)[has]
    tech = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.tolist(), pa.string()))
    keys = [f"prospect{{made + i}}.io" for i in range(m)]
    if made == 0:
        keys[: len(known)] = known[: m]
    table = pa.table({{
        "account_key": pa.array(keys, pa.string()),
        "employees": pa.array(employees.astype(np.int64)),
        "revenue": pa.array(employees * rng.lognormal(np.log(150_000), 0.5, m)),
        "industry": pa.array(industry.astype(str)),
        "country": pa.array(country.astype(str)),
        "founded_year": pa.array(rng.integers(1980, 2025, m).astype(np.int32)),
        "technologies": tech,
    }})
    if writer is None:
        writer = pq.ParquetWriter(root / "prospects.parquet", table.schema)
    writer.write_table(table, row_group_size=250_000)
    made += m
writer.close()
print(n)
"""

ICPKIT = """
import datetime as dt
from pathlib import Path
from icpkit.workspace import Workspace
root = Path({root!r})
ws = Workspace.open(root / "ws")
result = ws.score_file(root / "prospects.parquet", as_of=dt.date(2025, 10, 1),
                       out=root / "scored.parquet")
print(result.total)
"""

# The floor: read the file and write it again, nothing computed (ZSTD level 1, as icp score).
BARE_COPY = """
from pathlib import Path
import duckdb
root = Path({root!r})
con = duckdb.connect()
source, target = root / "prospects.parquet", root / "copied.parquet"
n = con.execute(f"COPY (SELECT * FROM read_parquet('{{source}}')) TO '{{target}}' "
                "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)").fetchone()[0]
print(n)
"""

# The same scorecard, column by column: what a pandas user would write by hand.
VECTORIZED = """
import datetime as dt
from pathlib import Path
import numpy as np, pandas as pd, duckdb
from icpkit.workspace import Workspace
from icpkit.icp.model import Criterion, Exclusion, IntentSignal
from icpkit.engines.scorecard import build_scorecard, decay_steps
from icpkit.vocabulary import FIT_DIMENSIONS
from icpkit.analysis.frame import bucket_labels
root = Path({root!r})
ws = Workspace.open(root / "ws")
icp = ws.require_icp(); card = build_scorecard(icp, ws.settings.scoring)
as_of = pd.Timestamp("2025-10-01")
df = pd.read_parquet(root / "prospects.parquet")
with ws.connect(read_only=True) as con:
    sig = con.execute("SELECT account_key, signal_type, detail, observed_at FROM signals").df()
amount = r"^[$€£]?[0-9][0-9.,]*[ ]*[kKmMbB]?[ ]+"
sig["kind"] = sig["detail"].fillna("").str.replace(amount, "", regex=True)
sig["age"] = (as_of - sig["observed_at"].dt.normalize()).dt.days
sig = sig[sig["age"] >= 0]
tools = df["technologies"].explode()
bounds = [float(b) for b in ws.settings.analysis.employee_buckets]
def labels(col, bnds, fmt):
    return pd.cut(df[col], [-np.inf, *bnds, np.inf], labels=bucket_labels(bnds, fmt), right=True)
values = {{"employees": labels("employees", bounds, "count"),
          "revenue": labels("revenue", ws.settings.analysis.revenue_buckets, "money")}}
def match(rule):
    if rule.attribute == "tech":
        return tools.isin(rule.values).groupby(level=0).any().reindex(df.index, fill_value=False)
    if rule.min is not None or rule.max is not None:
        col = df[rule.attribute]
        low = rule.min if rule.min is not None else -np.inf
        high = rule.max if rule.max is not None else np.inf
        return col.ge(low) & col.le(high)
    col = values.get(rule.attribute, df.get(rule.attribute))
    return col.isin(rule.values)
dims = {{d: np.full(len(df), card.base[d]) for d in card.base}}
excluded = np.zeros(len(df), bool)
for rp in card.rules:
    rule = rp.scored.rule
    if isinstance(rule, IntentSignal):
        s = sig[(sig.signal_type == rule.signal) & sig.age.between(*rule.window_days)]
        if rule.detail_in: s = s[s.kind.isin(rule.detail_in)]
        age = df["account_key"].map(s.groupby("account_key")["age"].min())
        steps = decay_steps(rp.points, *rule.window_days, card.half_lives.get(rp.id))
        lasts = np.array([a for a, _ in steps]); vals = np.array([v for _, v in steps])
        at = np.minimum(np.searchsorted(lasts, age.fillna(0)), len(vals) - 1)
        pts = np.where(age.isna(), 0, vals[at])
    else:
        hit = match(rule).to_numpy(bool)
        pts = np.where(hit, rp.points, 0)
        if rp.scored.list == "exclusions": excluded |= hit
    dims[rp.dimension] = dims[rp.dimension] + pts
score = sum(dims.values())
fit = np.floor(100 * sum(dims[d] for d in FIT_DIMENSIONS) / card.fit_max + 0.5)
intent = np.floor(100 * dims["behavioral"] / max(card.intent_max, 1) + 0.5)
t = card.tiers
tier = np.select([score >= t["A"], score >= t["B"], score >= t["C"]], ["A", "B", "C"], "D")
out = pd.DataFrame({{"account_key": df["account_key"], "fit": fit, "intent": intent,
                    "score": score, "tier": tier, "excluded": excluded}})
out.to_parquet(root / "scored_pandas.parquet")
print(len(out))
"""

ROWWISE = """
import datetime as dt
from pathlib import Path
import pandas as pd
from icpkit.workspace import Workspace
from icpkit.engines.reference import score_account
from icpkit.engines.scorecard import build_scorecard
root = Path({root!r})
ws = Workspace.open(root / "ws")
icp = ws.require_icp(); card = build_scorecard(icp, ws.settings.scoring)
df = pd.read_parquet(root / "prospects.parquet").head({sample})
with ws.connect(read_only=True) as con:
    sig = con.execute("SELECT account_key, signal_type, detail, observed_at FROM signals").df()
by = {{k: g.to_dict("records") for k, g in sig.groupby("account_key")}}
as_of = dt.date(2025, 10, 1)
def one(row):
    account = row.to_dict(); account["technologies"] = list(account["technologies"])
    signals = by.get(account["account_key"], [])
    return score_account(card, icp, ws.settings, account, signals, [], as_of)["score"]
scores = df.apply(one, axis=1)
print(len(scores))
"""

OPTBINNING = """
import datetime as dt
from pathlib import Path
import duckdb, numpy as np, pandas as pd
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression
from icpkit.analysis.deals import deal_matrix
from icpkit.analysis.frame import value_sql
from icpkit.workspace import Workspace
root = Path({root!r})
ws = Workspace.open(root / "ws")
settings = ws.settings.analysis
with ws.connect(read_only=True) as con:
    matrix = deal_matrix(con, settings)
names = [a.name for a in matrix.attributes
         if a.family == "fit" and not a.name.startswith("extra:") and a.name != "funding_stage"]
train = pd.DataFrame({{f"x{{i}}": matrix.columns[n] for i, n in enumerate(names)}})
columns = list(train.columns)
process = BinningProcess(columns, categorical_variables=columns)
card = Scorecard(binning_process=process,
                 estimator=LogisticRegression(max_iter=1000), scaling_method="min_max",
                 scaling_method_params={{"min": 0, "max": 100}})
card.fit(train, matrix.won)
con = duckdb.connect()
day = "DATE '2025-10-01'"
selects = ", ".join(f"{{value_sql(n, settings, as_of=day)}} AS x{{i}}" for i, n in enumerate(names))
source = f"read_parquet('{{root / 'prospects.parquet'}}')"
prospects = con.execute(f"SELECT {{selects}} FROM {{source}} AS a LIMIT {sample_big}").df()
import time; started = time.perf_counter()
scores = card.score(prospects)
took = time.perf_counter() - started
print(f"{{len(scores)}} {{took}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=100_000, help="rows for row-wise apply")
    parser.add_argument("--sample-big", type=int, default=1_000_000, help="rows for optbinning")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--floor-only", action="store_true", help="no challengers")
    args = parser.parse_args()
    root = args.out / f"score-{args.rows}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    fmt = {"root": str(root), "rows": args.rows, "sample": args.sample}
    print(
        f"{args.rows:,} prospects; row-wise on {args.sample:,}, optbinning on {args.sample_big:,}"
    )
    prep_s, _, _ = run_step(PREPARE.format(**fmt))
    print(f"prepared {args.rows:,} prospects in {prep_s:.1f}s")
    results = {}
    steps = [
        ("icp score (DuckDB, compiled SQL, reasons)", ICPKIT),
        ("bare DuckDB copy (nothing computed)", BARE_COPY),
    ]
    if not args.floor_only:
        steps += [
            ("pandas vectorized (no reasons)", VECTORIZED),
            ("pandas row-wise apply (reference scorer)", ROWWISE),
        ]
    for name, code in steps:
        took, peak, line = run_step(code.format(**fmt))
        results[name] = {"rows": int(line), "seconds": took, "peak_mib": peak}
        print(name, results[name], flush=True)
    if not args.floor_only:
        took, peak, line = run_step(OPTBINNING.format(root=str(root), sample_big=args.sample_big))
        scored, score_s = line.split()
        results["optbinning Scorecard.score"] = {
            "rows": int(scored),
            "seconds": float(score_s),
            "peak_mib": peak,
        }
    print(json.dumps(results, indent=1))
    base = results["icp score (DuckDB, compiled SQL, reasons)"]
    base_rate = base["rows"] / base["seconds"]
    floor = results["bare DuckDB copy (nothing computed)"]
    print(f"\nicp score takes {base['seconds'] / floor['seconds']:.2f}x the bare copy")
    print("\n| implementation | rows | seconds | rows/s | icp score is ...x faster | peak MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(
            f"| {name} | {r['rows']:,} | {r['seconds']:.1f} | {rate:,.0f} | "
            f"{base_rate / rate:.1f} | {r['peak_mib']:,.0f} |"
        )


if __name__ == "__main__":
    main()
