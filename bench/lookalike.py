"""Lookalikes benchmark: a company universe ranked by likeness to the Tier 1 customers.

For each size, in one run: the demo CRM generated, ingested and derived, and a universe of
its companies plus ``--extra`` new ones written (a step of its own); then, each in a fresh
process:

- ``icpkit lookalikes``: ``Workspace.lookalikes(universe, top=100)``, the whole job: the
  tiers, the attributes' weights, the separation test, reading the universe, the nearest
  Tier 1 customers of every candidate (a k-d tree) and the reasons; with precision@100,
  the share of the hundred that are planted-ICP companies;
- ``scikit-learn NearestNeighbors``: what a user would otherwise write on the same vectors
  (icpkit's encoding, not timed): ``NearestNeighbors(n_neighbors=5)`` fitted on the Tier 1
  customers and ``kneighbors`` of the candidates. Its default chooses a brute-force
  comparison at this many columns, as icpkit did before the tree; it runs on the first
  ``--peer-rows`` candidates and its rate is scaled to all of them (a full comparison
  costs the same per candidate). Printed under the table: the two searches alone on those
  rows (the tree built and searched as icpkit does) and the largest difference between
  their distances: the two find the same neighbours.

Usage: ``python bench/lookalike.py [--deals 50000 1000000] [--extra 200000 100000]
[--peer-rows 20000] [--out bench/out]``
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from measure import measure_step

HERE = Path(__file__).resolve().parent

PREPARE = """
from pathlib import Path
from icpkit.demo import make_crm, make_universe
from icpkit.workspace import Workspace
root = Path({root!r})
files = make_crm({n}, {seed}, root / "data")
ws = Workspace.init(root / "ws")
assert ws.ingest(files.exports()).ok
assert ws.derive().written
print(make_universe(files, {extra}, {seed}, root / "universe").path)
"""

ICPKIT = """
import json
import pyarrow.parquet as pq
from icpkit.workspace import Workspace
hits = Workspace.open({ws!r}).lookalikes({universe!r}, top=100)
truth = pq.read_table({truth!r}, columns=["account_key", "is_icp"]).to_pydict()
is_icp = dict(zip(truth["account_key"], truth["is_icp"]))
print(json.dumps({{"hits": len(hits), "precision": sum(is_icp[h.account_key] for h in hits)
                  / len(hits)}}))
"""

PEER = """
import json, tempfile, time
from pathlib import Path
import numpy as np
from sklearn.neighbors import NearestNeighbors
from icpkit.operate import lookalike as L
from icpkit.operate.universe import create_view, open_universe, scratch
from icpkit.store.db import arrow_table, attach_read_only
from icpkit.workspace import Workspace
ws = Workspace.open({ws!r})
settings, icp = ws.settings, ws.current_icp()
tier1 = sorted(k for k, t in ws.tiers().tier_of().items() if t == 1)
con = scratch(settings.store, ws.root)
attach_read_only(con, ws.store_path)
accounts = arrow_table(con, L._select(settings.analysis, "ws.accounts", "TRUE"))
encoder = L.fit_encoder(accounts, set(tier1))
reference = encoder.encode(L._columns(accounts.filter(L._among(accounts["account_key"], tier1))))
with tempfile.TemporaryDirectory() as tmp:  # a raw export is read into a copy here
    read = open_universe(Path({universe!r}), settings, ws.store_path, icp, workdir=Path(tmp))
    create_view(con, read.path, icp)
    sql = L._candidates_sql(icp, settings.analysis, "NULL::VARCHAR")
    candidates = np.vstack([encoder.encode(L._columns(b)) for b in L._batches(con, sql)])
rows = candidates[: {peer_rows}]
started = time.perf_counter()
distances, _ = NearestNeighbors(n_neighbors=min(5, len(reference))).fit(reference).kneighbors(rows)
took = time.perf_counter() - started
started = time.perf_counter()
tree, _ = L.Customers.of(reference).nearest(rows, min(5, len(reference)))
tree_took = time.perf_counter() - started
print(json.dumps({{"candidates": len(candidates), "rows": len(rows), "seconds": took,
                  "tree_seconds": tree_took,
                  "tier1": len(reference), "columns": reference.shape[1],
                  "max_difference": float(np.abs(distances - tree).max())}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, nargs="+", default=[50_000])
    parser.add_argument("--extra", type=int, nargs="+", default=[200_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--peer-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    if len(args.extra) != len(args.deals):
        parser.error("give one --extra per --deals")
    print(
        "| deals | universe | candidates | Tier 1 | step | seconds | candidates/s | peak memory "
        "| time vs icpkit | precision@100 |"
    )
    print("| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n, extra in zip(args.deals, args.extra, strict=True):
        root = args.out / f"lookalike-{n}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        ws = str(root / "ws")
        universe = measure_step(PREPARE.format(root=str(root), n=n, seed=args.seed, extra=extra))
        path = Path(universe.last)
        truth = str(path.parent / "universe_truth.parquet")
        ours = measure_step(ICPKIT.format(ws=ws, universe=str(path), truth=truth))
        peer = measure_step(PEER.format(ws=ws, universe=str(path), peer_rows=args.peer_rows))
        found, compared = json.loads(ours.last), json.loads(peer.last)
        size = f"{n:,} | {_rows(path):,} | {compared['candidates']:,} | {compared['tier1']:,}"
        rate = compared["candidates"] / ours.seconds
        print(
            f"| {size} | icpkit lookalikes | {ours.seconds:.1f} | {rate:,.0f} | "
            f"{ours.peak_mib:,.0f} MiB | 1.00x | {found['precision']:.2f} |"
        )
        peer_rate = compared["rows"] / compared["seconds"]
        scaled = compared["candidates"] / peer_rate
        print(
            f"| {size} | scikit-learn NearestNeighbors ({compared['rows']:,} rows measured, "
            f"scaled) | {scaled:.1f} | {peer_rate:,.0f} | {peer.peak_mib:,.0f} MiB | "
            f"{scaled / ours.seconds:.1f}x | - |"
        )
        print(
            f"(columns {compared['columns']}; the searches alone on the {compared['rows']:,} "
            f"rows: scikit-learn {compared['seconds']:.2f} s, icpkit's tree "
            f"{compared['tree_seconds']:.2f} s; largest difference between their distances: "
            f"{compared['max_difference']:.1e})"
        )


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


if __name__ == "__main__":
    main()
