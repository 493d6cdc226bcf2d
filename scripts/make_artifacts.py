"""Write one generation of reference artifacts: files of the formats this icpkit writes, that
every later icpkit must still read (tests/artifacts/test_v1_still_reads.py reads them).

    python scripts/make_artifacts.py tests/artifacts/v1

Run it once per generation, when the generation's formats are released, and never again for
that folder: the files are the record of what users of those releases have on disk. The
script refuses a folder that exists. When a schema version is raised (docs/compatibility.md),
write the next generation beside the old ones (``tests/artifacts/v2``) and keep the old
ones' test passing, or list the break in docs/compatibility.md.

What it writes, from a demo CRM (2,000 deals, seed 7) derived into a workspace:

- ``workspace/icp.yaml`` with its ICP and ``workspace/.icp/versions/v0001.yaml`` (and the
  changelog, when the first derivation writes one): the settings file and a saved version;
- ``accounts.csv``: 40 companies of the demo's HubSpot-style export, and
  ``scored.csv``, ``scored.parquet``, ``scored.json``: ``icp score accounts.csv --out``;
- ``universe.parquet``: a small company universe in the input layout, and ``tam.json``,
  ``lookalike.json``, ``lookalike.csv``: ``icp tam`` and ``icp lookalike`` on it;
- ``README.md``: what each file is and the icpkit that wrote it.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

import icpkit
from icpkit.cli.main import app
from icpkit.demo import make_crm, make_universe
from icpkit.output import versions
from icpkit.workspace import Workspace

AS_OF = "2025-10-01"
ACCOUNTS = 40
UNIVERSE_ROWS = 300


def _icp(runner: CliRunner, *args: str) -> None:
    result = runner.invoke(app, list(args))
    if result.exit_code != 0:
        raise SystemExit(f"icp {' '.join(args)} failed:\n{result.output}")


def _accounts(companies: Path, target: Path, n: int) -> None:
    """The header and first ``n`` records of the demo's companies export, as written."""
    with companies.open(encoding="utf-8-sig", newline="") as src:
        rows = [row for _, row in zip(range(n + 1), csv.reader(src), strict=False)]
    with target.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)


def make(target: Path) -> None:
    """Write the artifacts into ``target`` (which must not exist)."""
    if target.exists():
        raise SystemExit(
            f"{target} exists: a generation of artifacts is written once and never rewritten "
            "(see docs/compatibility.md); write a new generation beside it"
        )
    runner = CliRunner()
    with tempfile.TemporaryDirectory(prefix="icpkit-artifacts-") as scratch:
        root = Path(scratch)
        files = make_crm(2_000, 7, root / "data")
        ws = Workspace.init(root / "ws")
        if not ws.ingest(files.exports()).ok:
            raise SystemExit("the demo CRM did not ingest cleanly")
        ws.derive()
        build = root / "build"
        build.mkdir()
        _accounts(files.companies, build / "accounts.csv", ACCOUNTS)
        universe = make_universe(files, 200, 1, root / "universe")
        small = pq.read_table(universe.path).slice(0, UNIVERSE_ROWS)
        pq.write_table(small, build / "universe.parquet")
        # Relative paths, so the documents name the files as they lie in the folder.
        here = Path.cwd()
        os.chdir(build)
        try:
            w = ["-w", str(ws.root), "--as-of", AS_OF]
            for suffix in ("csv", "parquet", "json"):
                _icp(runner, "score", "accounts.csv", "--out", f"scored.{suffix}", *w)
            _icp(runner, "tam", "universe.parquet", "--format", "json", "--out", "tam.json", *w)
            for fmt in ("json", "csv"):
                _icp(
                    runner,
                    "lookalike",
                    "universe.parquet",
                    "--top",
                    "10",
                    "--format",
                    fmt,
                    "--out",
                    f"lookalike.{fmt}",
                    "-w",
                    str(ws.root),
                )
        finally:
            os.chdir(here)
        (build / "workspace" / ".icp").mkdir(parents=True)
        shutil.copy(ws.root / "icp.yaml", build / "workspace" / "icp.yaml")
        shutil.copytree(ws.root / ".icp" / "versions", build / "workspace" / ".icp" / "versions")
        changelog = ws.root / ".icp" / "CHANGELOG.md"
        if changelog.is_file():
            shutil.copy(changelog, build / "workspace" / ".icp")
        (build / "README.md").write_text(_readme(target.name), encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(build, target)


def _readme(generation: str) -> str:
    v = versions
    files = [
        (
            "`workspace/icp.yaml`",
            "the settings file with its ICP (`icp:`), as `icp derive` left it",
            f"settings {v.SETTINGS}, ICP {v.ICP}",
        ),
        (
            "`workspace/.icp/versions/v0001.yaml`",
            "the saved ICP version 1",
            f"ICP {v.ICP}",
        ),
        ("`accounts.csv`", f"{ACCOUNTS} companies of a demo HubSpot export", "(input)"),
        (
            "`scored.csv`, `scored.parquet`, `scored.json`",
            f"`icp score accounts.csv --out scored.<format> --as-of {AS_OF}`",
            f"scored file {v.SCORED}",
        ),
        ("`universe.parquet`", f"{UNIVERSE_ROWS} companies in the input layout", "(input)"),
        (
            "`tam.json`",
            f"`icp tam universe.parquet --format json --as-of {AS_OF}`",
            f"document {v.DOCUMENT}",
        ),
        (
            "`lookalike.json`, `lookalike.csv`",
            "`icp lookalike universe.parquet --top 10 --format json` (and `csv`)",
            f"document {v.DOCUMENT}",
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in files)
    return f"""# Artifacts {generation}: files that every later icpkit must still read

Written once by `python scripts/make_artifacts.py tests/artifacts/{generation}` with icpkit
{icpkit.__version__}, and never rewritten: they stand for the files users of that release
have on disk. `tests/artifacts/test_{generation}_still_reads.py` reads each with today's
readers; see docs/compatibility.md.

| file | what | schema version |
| --- | --- | --- |
{table}

The demo CRM behind them: `make_crm(2_000, seed=7)`; the universe is the first
{UNIVERSE_ROWS} rows of `make_universe(files, 200, 1)`.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "target", type=Path, help="the generation's folder, e.g. tests/artifacts/v1"
    )
    make(parser.parse_args(argv).target)


if __name__ == "__main__":
    main(sys.argv[1:])
