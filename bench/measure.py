"""Running one benchmark step in a fresh interpreter and reading back its time and memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

# Steps run as an installed icpkit does: with Python's bytecode cache written and read. A
# shell that sets PYTHONDONTWRITEBYTECODE would have each step compile icpkit's modules from
# source again (0.15-0.2 s a process), which no user's second run pays.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

_WRAPPER = textwrap.dedent(
    """
    import resource, sys, time
    started = time.perf_counter()
    exec(compile(sys.argv[1], "<bench>", "exec"))
    took = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"__bench__ {took} {usage.ru_maxrss / 1024} {usage.ru_utime} {usage.ru_stime}",
          usage.ru_minflt)
    """
)


@dataclass(frozen=True)
class Step:
    """What one step took: wall seconds, peak RSS in MiB, the CPU seconds of its process
    (all threads) in user code and in the kernel, its minor page faults, and the last line
    it printed. On a virtual machine where a fresh page is dear, the system seconds follow
    the faults, and the faults move less from spell to spell than the seconds do."""

    seconds: float
    peak_mib: float
    user_seconds: float
    system_seconds: float
    page_faults: int
    last: str

    @property
    def cpu_seconds(self) -> float:
        """User and system CPU seconds together."""
        return self.user_seconds + self.system_seconds


def measure_step(code: str) -> Step:
    """Run ``code`` in a fresh interpreter and measure it (see :class:`Step`).

    Linux keeps a process's peak RSS across exec, so the parent of the steps must stay small
    (generate data in a step of its own) for the figures to be the step's alone.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, code],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    took, peak, user, system, faults = lines[-1].split()[1:]
    last = lines[-2] if len(lines) > 1 else ""
    return Step(float(took), float(peak), float(user), float(system), int(faults), last)


def run_step(code: str) -> tuple[float, float, str]:
    """Run ``code``: seconds, peak RSS in MiB, and the last line it printed."""
    step = measure_step(code)
    return step.seconds, step.peak_mib, step.last


def round_order(names: list[str], round_no: int) -> list[str]:
    """The steps of round ``round_no`` (from 0): as given in even rounds, reversed in odd
    ones, so that no step always runs right after the same one on a shared machine."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def median(values: list[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spread(values: list[float], unit: str = " s") -> str:
    """Median and range of a step's rounds: '10.3 s (9.1-11.2 s, 3 rounds)'; one round is
    its value alone."""
    if len(values) == 1:
        return f"{values[0]:.1f}{unit}"
    low, high = min(values), max(values)
    return f"{median(values):.1f}{unit} ({low:.1f}-{high:.1f}{unit}, {len(values)} rounds)"


# A step loading one file into a fresh workspace (``ws``, ``path``): it prints the rows loaded.
INGEST_ONE_FILE = """
from icpkit.workspace import Workspace
ws = Workspace.init({ws!r})
result = ws.ingest([{path!r}])
assert result.ok, result.failures
print(result.files[0].rows_loaded)
"""

# The floor of that step: DuckDB's own reader loading the file as text (``db``, ``path``).
READ_CSV_AS_TEXT = """
import duckdb
con = duckdb.connect({db!r})
con.execute("CREATE TABLE t AS SELECT * FROM read_csv({path!r}, all_varchar=true)")
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
"""
