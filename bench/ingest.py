"""Ingestion benchmark: generated HubSpot-style deals, companies and signals into a workspace.

Measured in one run, each step in its own process (so peak memory is that step's alone):

- ``icpkit``: ``icp ingest`` of the three exports (detect, normalize, quarantine, merge),
  with the default settings (``store.ingest_memory_limit: 1GB``: DuckDB spills past it) and
  without a memory limit (DuckDB's own default, 80% of RAM);
- ``pandas per-cell``: what a user would otherwise write: ``pandas.read_csv`` then the same
  normalizers on the same columns, applied cell by cell with ``Series.map`` and loaded into
  DuckDB. It is the easy version: no quarantine, no duplicate checks, no merging by key;
- ``duckdb read_csv``: DuckDB's own CSV reader loading the three files as text, no
  normalization at all: the floor any loader pays to read the bytes;
- ``read_csv + the store's writes``: the three files read as icpkit stages them (text, into
  temporary tables), then the store's tables written as icpkit's ingest left them (their
  rows copied from its store: typed, compressed), with no normalization, lookup or merge:
  what any loader of this store pays before doing any of icpkit's work.

The table gives each step's time against icpkit's and against ``duckdb read_csv``'s, the
CPU seconds its process used (all threads) and the part of them spent in the kernel, and
its minor page faults: on a shared machine the ratio to read_csv and the CPU seconds move
less with the load than the seconds do, and on a virtual machine the kernel's time follows
the faults.

With ``--rounds N`` every step runs N times, in reverse order every other round; each row
is compared with icpkit's and read_csv's of its own round, and each step is summed up by
its median and range.

Usage: ``python bench/ingest.py [--deals 1000000] [--seed 7] [--out bench/out]
[--skip pandas,unlimited] [--rounds 1]``
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

from measure import measure_step, median, round_order, spread

HERE = Path(__file__).resolve().parent
FLOOR = "duckdb read_csv (no normalization)"
WRITES = "read_csv + the store's writes (no normalization)"
# Every step ends by printing the rows it loaded.
EPILOGUE = """
print(ROWS)
"""

ICPKIT = """
from icpkit.workspace import Workspace
ws = Workspace.init({ws!r})
if {unlimited!r}:
    ws.settings.store.ingest_memory_limit = None
result = ws.ingest([{companies!r}, {deals!r}, {signals!r}])
assert result.ok, result.failures
ROWS = sum(r.rows_read for r in result.files)
"""

PANDAS = """
import duckdb, pandas as pd
from icpkit.ingest.normalize import Unreadable
from icpkit.ingest.normalize.booleans import parse_bool
from icpkit.ingest.normalize.countries import country_code
from icpkit.ingest.normalize.dates import parse_date
from icpkit.ingest.normalize.domains import registrable_domain
from icpkit.ingest.normalize.employees import parse_employees
from icpkit.ingest.normalize.industries import match_industry
from icpkit.ingest.normalize.money import parse_money
from icpkit.ingest.normalize.names import company_name_key
from icpkit.ingest.normalize.stages import stage_outcome

def safe(fn):
    def run(v):
        if not isinstance(v, str):
            return None
        try:
            return fn(v)
        except Unreadable:
            return None
    return run

def money(v):
    m = parse_money(v)
    return None if m is None else m.amount

def employees(v):
    e = parse_employees(v)
    return None if e is None else e.value

def industry(v):
    m = match_industry(v)
    return None if m is None else m.label

def iso(v):
    return parse_date(v, "iso")

# The same fields icpkit normalizes, cell by cell, as a hand-written script would.
companies = pd.read_csv({companies!r}, dtype=str, keep_default_na=False, encoding="utf-8-sig")
companies["domain"] = companies["Company Domain Name"].map(safe(registrable_domain))
companies["name_key"] = companies["Company name"].map(safe(company_name_key))
companies["employees"] = companies["Number of Employees"].map(safe(employees))
companies["revenue"] = companies["Annual Revenue"].map(safe(money))
companies["industry"] = companies["Industry"].map(safe(industry))
companies["country"] = companies["Country/Region"].map(safe(country_code))
companies["funding"] = companies["Total Money Raised"].map(safe(money))
companies["tech"] = companies["Web Technologies"].str.split(";")
companies["churned"] = companies["Churned"].map(safe(parse_bool))
companies["churn_date"] = companies["Churn Date"].map(safe(iso))
companies["created"] = companies["Create Date"].map(safe(iso))
deals = pd.read_csv({deals!r}, dtype=str, keep_default_na=False)
deals["outcome"] = deals["Deal Stage"].map(safe(stage_outcome))
deals["amount"] = deals["Amount"].map(safe(money))
deals["close"] = deals["Close Date"].map(safe(lambda v: parse_date(v, "mdy")))
deals["create"] = deals["Create Date"].map(safe(iso))
deals["name_key"] = deals["Associated Company"].map(safe(company_name_key))
signals = pd.read_csv({signals!r}, dtype=str, keep_default_na=False)
signals["domain"] = signals["Company Domain Name"].map(safe(registrable_domain))
signals["name_key"] = signals["Company name"].map(safe(company_name_key))
signals["date"] = signals["Signal Date"].map(safe(iso))
con = duckdb.connect({db!r})
con.execute("CREATE TABLE deals AS SELECT * FROM deals")
con.execute("CREATE TABLE companies AS SELECT * FROM companies")
con.execute("CREATE TABLE signals AS SELECT * FROM signals")
ROWS = len(deals) + len(companies) + len(signals)
"""

DUCKDB = """
import duckdb
con = duckdb.connect({db!r})
n = 0
for path in [{companies!r}, {deals!r}, {signals!r}]:
    sql = f"SELECT * FROM read_csv('{{path}}', all_varchar=true)"
    con.execute(f"CREATE OR REPLACE TABLE t AS {{sql}}")
    n += con.execute("SELECT count(*) FROM t").fetchone()[0]
ROWS = n
"""

# The store's tables as icpkit's ingest left them, written after the files are read.
STORE_WRITES = """
import duckdb
con = duckdb.connect({db!r})
con.execute("ATTACH {store!r} AS s (READ_ONLY)")
tables = ["accounts", "account_ids", "deals", "signals", "quarantine", "imports"]
for t in tables:
    con.execute(f"CREATE TABLE {{t}} AS SELECT * FROM s.{{t}} LIMIT 0")
n = 0
for i, path in enumerate([{companies!r}, {deals!r}, {signals!r}]):
    sql = f"SELECT * FROM read_csv('{{path}}', all_varchar=true)"
    con.execute(f"CREATE TEMP TABLE raw{{i}} AS {{sql}}")
    n += con.execute(f"SELECT count(*) FROM raw{{i}}").fetchone()[0]
for t in tables:
    con.execute(f"INSERT INTO {{t}} SELECT * FROM s.{{t}}")
con.execute("DETACH s")
con.close()
ROWS = n
"""


def _clear(extra: dict[str, object]) -> None:
    """Remove what a step wrote in an earlier round (its workspace or database)."""
    for key in ("ws", "db"):
        if isinstance(target := extra.get(key), str):
            path = Path(target)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--skip", default="", help="steps to leave out, comma-separated: pandas, unlimited"
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each step runs")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    from icpkit.demo import make_crm

    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    files = make_crm(args.deals, args.seed, out / "data")
    gen_seconds = time.perf_counter() - started
    gen_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    paths = {
        "companies": str(files.companies),
        "deals": str(files.deals),
        "signals": str(files.signals),
    }
    size_mb = sum(Path(p).stat().st_size for p in paths.values()) / 2**20

    steps = {
        "icpkit ingest": (ICPKIT, {"ws": str(out / "ws"), "unlimited": False}),
        "icpkit ingest, no memory limit": (
            ICPKIT,
            {"ws": str(out / "ws-unlimited"), "unlimited": True},
        ),
        "pandas per-cell": (PANDAS, {"db": str(out / "pandas.duckdb")}),
        FLOOR: (DUCKDB, {"db": str(out / "raw.duckdb")}),
        # After icpkit's step in the first round; later rounds read the last round's store.
        WRITES: (
            STORE_WRITES,
            {"db": str(out / "writes.duckdb"), "store": str(out / "ws" / "workspace.duckdb")},
        ),
    }
    left_out = {"pandas": "pandas per-cell", "unlimited": "icpkit ingest, no memory limit"}
    for name in [left_out[k] for k in skip if k in left_out]:
        del steps[name]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in steps}
    for round_no in range(args.rounds):
        for name in round_order(list(steps), round_no):
            template, extra = steps[name]
            _clear(extra)  # each round writes its store afresh
            step = measure_step(template.format(**paths, **extra) + EPILOGUE)
            rows = int(step.last)
            runs[name].append(
                {
                    "seconds": step.seconds,
                    "cpu_seconds": step.cpu_seconds,
                    "system_seconds": step.system_seconds,
                    "page_faults": step.page_faults,
                    "peak_mib": step.peak_mib,
                    "rows": rows,
                }
            )
            print(
                f"{name}: {rows:,} rows in {step.seconds:.1f}s ({step.cpu_seconds:.1f}s CPU), "
                f"peak {step.peak_mib:.0f} MiB",
                file=sys.stderr,
            )

    results = {
        name: {key: median([r[key] for r in taken]) for key in taken[0]}
        for name, taken in runs.items()
    }
    report = {
        "deals": args.deals,
        "seed": args.seed,
        "input_mib": round(size_mb, 1),
        "generate_seconds": round(gen_seconds, 2),
        "generate_peak_mib": round(gen_peak),
        "steps": results,  # the medians of the rounds
        "rounds": runs,
    }
    (out / "ingest.json").write_text(json.dumps(report, indent=2))
    print(
        "| step | round | rows | seconds | rows/s | CPU seconds | of which system | page faults "
        "| peak memory | time vs icpkit | time vs read_csv |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, taken in runs.items():
        for round_no, r in enumerate(taken):
            base, floor = runs["icpkit ingest"][round_no], runs[FLOOR][round_no]
            print(
                f"| {name} | {round_no + 1} | {int(r['rows']):,} | {r['seconds']:.1f} "
                f"| {r['rows'] / r['seconds']:,.0f} | {r['cpu_seconds']:.1f} "
                f"| {r['system_seconds']:.1f} | {int(r['page_faults']):,} "
                f"| {r['peak_mib']:,.0f} MiB | {r['seconds'] / base['seconds']:.2f}x "
                f"| {r['seconds'] / floor['seconds']:.1f}x |"
            )
    if args.rounds > 1:
        print()
        for name, taken in runs.items():
            ratios = [
                r["seconds"] / floor["seconds"] for r, floor in zip(taken, runs[FLOOR], strict=True)
            ]
            print(
                f"{name}: {spread([r['seconds'] for r in taken])}; "
                f"{spread(ratios, 'x')} read_csv's time in the same round"
            )
    print(
        f"\nInput: {args.deals:,} deals, {size_mb:,.0f} MiB of CSV; generated in "
        f"{gen_seconds:.1f}s ({args.deals / gen_seconds:,.0f} deals/s), peak {gen_peak:,.0f} MiB."
    )


if __name__ == "__main__":
    main()
