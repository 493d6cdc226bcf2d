"""Running one benchmark step in a fresh interpreter and reading back its time and memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_WRAPPER = textwrap.dedent(
    """
    import resource, sys, time
    started = time.perf_counter()
    exec(compile(sys.argv[1], "<bench>", "exec"))
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"__bench__ {took} {peak}")
    """
)


def run_step(code: str) -> tuple[float, float, str]:
    """Run ``code``: seconds, peak RSS in MiB, and the last line it printed.

    Linux keeps a process's peak RSS across exec, so the parent of the steps must stay small
    (generate data in a step of its own) for the figures to be the step's alone.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, code], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    took, peak = (float(x) for x in lines[-1].split()[1:])
    return took, peak, lines[-2]
