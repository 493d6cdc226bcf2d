"""Amounts benchmark: a deals export whose amounts are written as formatted reports write them.

HubSpot writes amounts as plain numbers; a Salesforce formatted report, a spreadsheet saved
from one, or a European CRM writes '$12,290.74', 'USD 12,290.53' or '12.290,83 €'. The demo
CRM's deals export is written once per form, every amount given cents of its own so that
nearly every value is distinct (the worst case for reading distinct values), and each file
is loaded in a process of its own:

- ``icpkit ingest``: ``Workspace.ingest`` of the deals file alone;
- ``duckdb read_csv``: DuckDB's own reader loading the same file as text, the floor.

Usage: ``python bench/amounts.py [--deals 200000] [--rounds 2] [--out bench/out-amounts]``
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from measure import INGEST_ONE_FILE, READ_CSV_AS_TEXT, measure_step, round_order, spread

HERE = Path(__file__).resolve().parent

FORMS: dict[str, Callable[[float], str]] = {
    "plain (12290.74)": lambda x: f"{x:.2f}",
    "$12,290.74": lambda x: f"${x:,.2f}",
    "USD 12,290.53": lambda x: f"USD {x:,.2f}",
    "12.290,83 €": lambda x: f"{x:,.2f} €".replace(",", "_").replace(".", ",").replace("_", "."),
}

GENERATE = """
from icpkit.demo import make_crm
make_crm({deals}, 7, {data!r})
"""


def write_forms(source: Path, out: Path) -> dict[str, Path]:
    """The deals export once per form of its amounts, each amount with cents of its own."""
    rng = random.Random(7)
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    at = header.index("Amount")
    cents = [rng.randrange(100) / 100 for _ in body]
    paths = {}
    for n, (name, write) in enumerate(FORMS.items()):
        path = out / f"deals_{n}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row, extra in zip(body, cents, strict=True):
                amount = row[at]
                if amount.replace(".", "", 1).isdigit():
                    row = [*row[:at], write(float(amount) + extra), *row[at + 1 :]]
                writer.writerow(row)
        paths[name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out-amounts")
    args = parser.parse_args()
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    measure_step(GENERATE.format(deals=args.deals, data=str(out / "data")))
    paths = write_forms(out / "data" / "deals.csv", out)

    print(
        "| amounts written | round | rows | icpkit seconds | rows/s | read_csv seconds "
        "| vs read_csv |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    took: dict[str, list[float]] = {name: [] for name in FORMS}
    ratio: dict[str, list[float]] = {name: [] for name in FORMS}
    for round_no in range(1, args.rounds + 1):
        for name in round_order(list(FORMS), round_no - 1):
            path = str(paths[name])
            ws = out / f"ws-{round_no}-{list(FORMS).index(name)}"
            ours = measure_step(INGEST_ONE_FILE.format(ws=str(ws), path=path))
            floor = measure_step(READ_CSV_AS_TEXT.format(db=str(ws) + ".duckdb", path=path))
            rows = int(ours.last)
            took[name].append(ours.seconds)
            ratio[name].append(ours.seconds / floor.seconds)
            print(
                f"| {name} | {round_no} | {rows:,} | {ours.seconds:.2f} | "
                f"{rows / ours.seconds:,.0f} | {floor.seconds:.2f} | "
                f"{ours.seconds / floor.seconds:.1f}x |"
            )
            sys.stdout.flush()
    print()
    for name in FORMS:
        print(f"{name}: {spread(took[name])}; {spread(ratio[name], 'x')} read_csv's time")


if __name__ == "__main__":
    main()
