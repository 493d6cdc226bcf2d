"""Start-up benchmark: how long ``icp --version``, ``icp --help`` and ``icp summary`` take,
and what they load.

Each command runs ``--runs`` times in a fresh process, after one run that writes Python's
bytecode cache (as an installed icpkit has it); the median wall time is reported, next
to a bare ``python -c pass`` (the interpreter's own start-up) and the number of modules the
command line imports. No command's help may import DuckDB, numpy, scipy, scikit-learn or
pyarrow. ``icp summary`` reads a workspace holding the 5,000-deal demo CRM, made first in a
temporary folder, then the same workspace once ``icp derive`` has put an ICP in it.

Usage: ``python bench/startup.py [--runs 15]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import ENV  # the bytecode cache written and read, as installed

ICP = Path(sys.executable).with_name("icp")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "icp --version": [str(ICP), "--version"],
    "icp --help": [str(ICP), "--help"],
    "icp analyze lift --help": [str(ICP), "analyze", "lift", "--help"],
}
HEAVY = ("duckdb", "numpy", "scipy", "sklearn", "pyarrow", "pandas")


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` fresh processes, after one run that
    leaves the bytecode cache written."""
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def loaded_modules() -> tuple[int, list[str]]:
    """Modules in sys.modules after importing the app and rendering ``--help``."""
    script = (
        "import sys\nfrom typer.testing import CliRunner\nfrom icpkit.cli.main import app\n"
        "CliRunner().invoke(app, ['--help'])\n"
        f"print(len(sys.modules), *sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    count, *heavy = out.stdout.decode().split()
    return int(count), heavy


def demo_workspace(root: Path) -> Path:
    """A workspace holding the 5,000-deal demo CRM (made with the command line)."""
    data, ws = root / "data", root / "ws"
    subprocess.run([str(ICP), "demo-data", "--rows", "5000", "--out", str(data)], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([str(ICP), "init", str(ws)], check=True, capture_output=True)
    files = [str(data / f"{name}.csv") for name in ("companies", "deals", "signals")]
    subprocess.run([str(ICP), "ingest", *files, "--workspace", str(ws)], check=True,
                   capture_output=True)  # fmt: skip
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print("| command | median seconds |\n| --- | ---: |")
    for name, command in COMMANDS.items():
        print(f"| `{name}` | {median_seconds(command, args.runs):.2f} |")
    with tempfile.TemporaryDirectory(prefix="icp-startup-") as tmp:
        ws = demo_workspace(Path(tmp))
        summary = [str(ICP), "summary", "--workspace", str(ws)]
        print(f"| `icp summary` (5,000 deals) | {median_seconds(summary, args.runs):.2f} |")
        # As most workspaces are: an ICP in icp.yaml, which the settings validate.
        subprocess.run([str(ICP), "derive", "--workspace", str(ws)], check=True,
                       capture_output=True)  # fmt: skip
        seconds = median_seconds(summary, args.runs)
        print(f"| `icp summary` (5,000 deals, after `icp derive`) | {seconds:.2f} |")
    count, heavy = loaded_modules()
    print(f"\n{count} modules loaded by --help; heavy: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
