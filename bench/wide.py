"""Wide-export benchmark: companies exports with hundreds or thousands of columns.

A CRM's "export all properties" writes every custom property: HubSpot and Salesforce
exports of 500 to 2,000 columns are common. Each shape is a generated companies export:
ten columns icpkit maps (id, name, domain, employees, revenue, industry, country, city,
create date, lifecycle stage) and the rest custom properties of mixed values, kept as
extra columns. Measured in one run, each step in its own process:

- ``icpkit ingest``: ``Workspace.ingest`` of the file (detect the columns, normalize,
  quarantine, merge);
- ``duckdb read_csv``: DuckDB's own CSV reader loading the file as text into a table: the
  floor any loader pays to read the bytes.

With ``--derive DEALSxCOLUMNS`` (``50000x300``, several comma-separated) it also times
``icp derive`` on the demo CRM of that many deals whose companies export carries that many
custom properties of a few values each (every one an attribute to test), against the derive
of the same CRM without them: what the unmapped columns cost the analysis.

Usage: ``python bench/wide.py [--shapes 2000x20,500x20000,1500x5000] [--derive 50000x300]
[--out bench/out-wide]`` (``--shapes ''``: the derive alone)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
from pathlib import Path

from measure import INGEST_ONE_FILE, READ_CSV_AS_TEXT, measure_step

HERE = Path(__file__).resolve().parent
MAPPED = [
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Number of Employees",
    "Annual Revenue",
    "Industry",
    "Country/Region",
    "City",
    "Create Date",
    "Lifecycle Stage",
]


def write_export(path: Path, columns: int, rows: int, seed: int = 7) -> None:
    """A companies export of ``columns`` columns: the mapped ten, then custom properties."""
    rng = random.Random(seed)
    custom = [f"Custom property {i}" for i in range(columns - len(MAPPED))]
    choices = ["", "", "yes", "no", "Enterprise", "2024-03-01"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(MAPPED + custom)
        for r in range(rows):
            mapped = [
                str(10_000 + r),
                f"Company {r}",
                f"company{r}.com",
                str(rng.randrange(1, 20_000)),
                str(rng.randrange(10**5, 10**9)),
                rng.choice(["Computer Software", "Retail", "Banking", "Hospital & Health Care"]),
                rng.choice(["United States", "Germany", "France", "Brazil"]),
                rng.choice(["Paris", "Austin", "Berlin"]),
                f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(0, 10)}",
                rng.choice(["customer", "lead", "opportunity"]),
            ]
            values = [
                f"{rng.random():.4f}" if rng.random() < 0.2 else rng.choice(choices) for _ in custom
            ]
            out.writerow(mapped + values)


# Set-up of the derive's two workspaces, in a process of its own: the demo CRM, then its
# companies export again with ``columns`` custom properties of two to eight values each.
WIDEN = """
import csv, random
from pathlib import Path
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
root = Path({root!r})
files = make_crm({deals}, 7, root / "narrow")
assert Workspace.init(root / "ws-narrow").ingest(files.exports()).ok
rng = random.Random(3)
with files.companies.open(newline="", encoding="utf-8-sig") as fh:
    rows = list(csv.reader(fh))
custom = [f"Custom property {{i}}" for i in range({columns})]
values = [[f"value {{j}}" for j in range(rng.randint(2, 8))] for _ in custom]
wide = root / "wide"
wide.mkdir()
with (wide / files.companies.name).open("w", newline="", encoding="utf-8") as fh:
    out = csv.writer(fh)
    out.writerow(rows[0] + custom)
    for row in rows[1:]:
        out.writerow(row + [rng.choice(v) if rng.random() < 0.8 else "" for v in values])
paths = [wide / files.companies.name, files.deals, files.signals]
assert Workspace.init(root / "ws-wide").ingest(paths).ok
print(0)
"""

DERIVE = """
from icpkit.workspace import Workspace
ws = Workspace.open({ws!r})
result = ws.derive()
print(len(result.icp.fit) + len(result.icp.exclusions))
"""

ATTRIBUTES = """
from icpkit.workspace import Workspace
from icpkit.attributes.extra import extra_columns
ws = Workspace.open({ws!r})
with ws.connect(read_only=True) as con:
    print(len(extra_columns(con, ws.settings.analysis)[0]))
"""


def derive_wide(out: Path, deals: int, columns: int) -> None:
    """Time ``icp derive`` with and without ``columns`` custom company properties."""
    root = out / f"derive-{deals}x{columns}"
    shutil.rmtree(root, ignore_errors=True)
    measure_step(WIDEN.format(root=str(root), deals=deals, columns=columns))
    print(
        "\n| deals | custom columns | unmapped columns analyzed | derive seconds | CPU seconds "
        "| peak memory | vs without them |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    narrow = None
    for name, extra in (("narrow", 0), ("wide", columns)):
        ws = str(root / f"ws-{name}")
        step = measure_step(DERIVE.format(ws=ws))
        # The last word: DuckDB may draw a progress bar on the same line.
        read = int(measure_step(ATTRIBUTES.format(ws=ws)).last.split()[-1])
        narrow = narrow or step.seconds
        print(
            f"| {deals:,} | {extra:,} | {read:,} | {step.seconds:.2f} | {step.cpu_seconds:.1f} "
            f"| {step.peak_mib:,.0f} MiB | {step.seconds / narrow:.2f}x |"
        )
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="2000x20,500x20000,1500x5000")
    parser.add_argument("--out", type=Path, default=HERE / "out-wide")
    parser.add_argument(
        "--derive", default="", help="DEALSxCOLUMNS, comma-separated: 50000x300,50000x1000"
    )
    args = parser.parse_args()
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    print(
        "| columns | rows | MiB | icpkit seconds | rows/s | cells/s | peak memory "
        "| read_csv seconds | icpkit vs read_csv |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    report = []
    for shape in filter(None, args.shapes.split(",")):
        columns, rows = (int(n) for n in shape.lower().split("x"))
        path = out / f"companies_{columns}x{rows}.csv"
        write_export(path, columns, rows)
        mib = path.stat().st_size / 2**20
        ours = measure_step(INGEST_ONE_FILE.format(ws=str(out / f"ws-{shape}"), path=str(path)))
        floor = measure_step(
            READ_CSV_AS_TEXT.format(db=str(out / f"raw-{shape}.duckdb"), path=str(path))
        )
        assert int(ours.last) == int(floor.last) == rows, (ours.last, floor.last)
        report.append(
            {
                "columns": columns,
                "rows": rows,
                "mib": round(mib, 1),
                "icpkit_seconds": ours.seconds,
                "icpkit_peak_mib": ours.peak_mib,
                "read_csv_seconds": floor.seconds,
            }
        )
        print(
            f"| {columns:,} | {rows:,} | {mib:,.1f} | {ours.seconds:.2f} | "
            f"{rows / ours.seconds:,.0f} | {rows * columns / ours.seconds:,.0f} | "
            f"{ours.peak_mib:,.0f} MiB | {floor.seconds:.2f} | "
            f"{ours.seconds / floor.seconds:.1f}x |"
        )
        sys.stdout.flush()
    (out / "wide.json").write_text(json.dumps(report, indent=2))
    for shape in filter(None, args.derive.split(",")):
        deals, columns = (int(n) for n in shape.lower().split("x"))
        derive_wide(out, deals, columns)


if __name__ == "__main__":
    main()
