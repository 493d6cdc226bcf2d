"""Raw-export scoring benchmark: ``icp score companies.csv`` on a raw HubSpot companies
export of about a million rows, against DuckDB reading the same file.

In one run:

- prepare: a demo workspace (20,000 deals) with its derived ICP, and a demo CRM large
  enough for its companies export to hold ``--rows`` companies (the generator's quirks
  included: URLs for websites, revenue as '$194.5M' or '10,717,000', multi-line notes);
- ``icp score``: ``Workspace.score_file(companies.csv, out=scored.parquet)``: detection,
  normalization and quarantine in one read (icpkit.engines.rawfile), the compiled SELECT,
  reasons included, streamed to Parquet;
- ``bare DuckDB read_csv``: the same CSV read by DuckDB, every column as text, and written
  to Parquet with the same compression, nothing computed: the floor of any scorer that
  reads the file;
- with ``--reference``: the same file loaded into a scratch store first, then scored (how
  ``icp score`` read raw exports before; the one-pass read is tested against it);

each in a fresh process, with its wall time, rows/s and peak RSS (start-up included).

Usage: ``python bench/score_raw.py [--rows 1000000] [--out bench/out/raw] [--reference]``
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from measure import run_step

HERE = Path(__file__).resolve().parent

PREPARE = """
from pathlib import Path
from icpkit.demo import make_crm
from icpkit.demo import truth as T
from icpkit.workspace import Workspace
root = Path({root!r})
files = make_crm(20_000, 7, root / "small")
ws = Workspace.init(root / "ws")
assert ws.ingest(files.exports()).ok
ws.derive()
big = make_crm(max(100, round({rows} / T.COMPANIES_PER_DEAL)), 5, root / "big")
print(sum(1 for _ in open(big.companies, encoding="utf-8-sig")) - 1)
"""
SCORE = """
import datetime as dt
from pathlib import Path
from icpkit.workspace import Workspace
root = Path({root!r})
ws = Workspace.open(root / "ws")
result = ws.score_file(root / "big" / "companies.csv", as_of=dt.date(2025, 10, 1),
                       out=root / "scored.parquet")
print(f"{{result.report.rows_read}} {{result.total}} {{result.report.rows_quarantined}}")
"""
REFERENCE = """
import datetime as dt
from pathlib import Path
from icpkit.workspace import Workspace
from icpkit.engines.prospects import score_file
root = Path({root!r})
ws = Workspace.open(root / "ws")
icp = ws.require_icp()
result = score_file(root / "big" / "companies.csv", icp, ws.settings, ws.store_path,
                    as_of=dt.date(2025, 10, 1), out=root / "scored_reference.parquet",
                    fast=False)
print(f"{{result.report.rows_read}} {{result.total}} {{result.report.rows_quarantined}}")
"""
# The floor: read the CSV as text and write it as Parquet (ZSTD level 1, as icp score).
BARE_READ = """
from pathlib import Path
import duckdb
root = Path({root!r})
con = duckdb.connect()
source, target = root / "big" / "companies.csv", root / "copied.parquet"
n = con.execute(f"COPY (SELECT * FROM read_csv('{{source}}', all_varchar = true)) "
                f"TO '{{target}}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
                ).fetchone()[0]
print(f"{{n}} {{n}} 0")
"""
SAME = """
import duckdb
from pathlib import Path
root = Path({root!r})
a, b = root / "scored.parquet", root / "scored_reference.parquet"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
n = con.execute(f"SELECT count(*) FROM ((FROM '{{a}}' EXCEPT ALL FROM '{{b}}') "
                f"UNION ALL (FROM '{{b}}' EXCEPT ALL FROM '{{a}}'))").fetchone()[0]
print(n)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="companies in the export")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "raw")
    parser.add_argument("--reference", action="store_true", help="also load-then-score")
    parser.add_argument("--keep", action="store_true", help="keep the prepared files")
    args = parser.parse_args()
    root = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f"prepared-{args.rows}"
    if not marker.exists():
        for name in ("ws", "small", "big"):
            shutil.rmtree(root / name, ignore_errors=True)
        print("preparing the workspace and the export ...", flush=True)
        run_step(PREPARE.format(root=str(root), rows=args.rows))
        marker.touch()
    steps = [("icp score (one read: detect, normalize, quarantine, score)", SCORE)]
    steps.append(("bare DuckDB read_csv of the same file to Parquet", BARE_READ))
    if args.reference:
        steps.append(("load into a scratch store, then score (the reference)", REFERENCE))
    results = []
    for label, code in steps:
        took, peak, last = run_step(code.format(root=str(root)))
        read, scored, quarantined = (int(x) for x in last.split())
        results.append((label, read, scored, quarantined, took, peak))
        print(f"{label}: {read:,} rows in {took:.1f} s, {peak:,.0f} MiB", flush=True)
    floor = results[1][4]
    print()
    print("| step | rows read | accounts out | seconds | rows/s | x bare read_csv | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, read, scored, _, took, peak in results:
        print(
            f"| {label} | {read:,} | {scored:,} | {took:.1f} | {read / took:,.0f} | "
            f"{took / floor:.2f}x | {peak:,.0f} MiB |"
        )
    if args.reference:
        _, _, last = run_step(SAME.format(root=str(root)))
        print(f"\nrows differing between icp score and the reference: {last}")
    if not args.keep:
        for name in ("scored.parquet", "scored_reference.parquet", "copied.parquet"):
            (root / name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
