"""An ingest killed with SIGKILL at any moment leaves a store that opens, holds either
everything the file brings or none of it, and no temporary file anywhere; running the
ingest again then loads exactly what an uninterrupted run loads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import DemoCrm
from icpkit.output.files import TEMP_MARK
from icpkit.workspace import Workspace

KILLS = 5
SEED = 20261201
ICP = [sys.executable, "-c", "from icpkit.cli.main import app; app()"]


def icp(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    """``icp`` run from ``cwd``, where nothing of it may be left behind."""
    return subprocess.Popen(
        [*ICP, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
        cwd=cwd,
    )


def files_under(*folders: Path) -> set[str]:
    """Every file and folder below the folders (hidden ones too)."""
    return {str(p) for folder in folders for p in folder.rglob("*")}


def unmarked(paths: set[str], keep_pid: int | None = None) -> set[str]:
    """The paths that are not icpkit's temporary files: a SIGKILL cannot be caught, so the
    ones it leaves (``.<name>.icpkit-tmp-<pid>``) go at the next run's sweep. Those of
    ``keep_pid`` are kept: a process stopped by SIGTERM must remove its own."""
    own = f"{TEMP_MARK}{keep_pid}" if keep_pid is not None else None
    return {p for p in paths if TEMP_MARK not in p or (own is not None and own in p)}


def deal_count(root: Path) -> int:
    ws = Workspace.open(root)
    with ws.connect() as con:
        row = con.execute("SELECT count(*) FROM deals").fetchone()
    assert row is not None
    return int(row[0])


def ingest_to_end(root: Path, path: Path) -> float:
    started = time.monotonic()
    proc = icp("ingest", str(path), "--workspace", str(root), cwd=path.parent)
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_ingest_killed_at_random_moments_leaves_no_partial_load(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    demo = demo_crm(20_000, 11)
    inputs = demo.deals.parent

    # Reference: the count an uninterrupted run of the same files gives.
    reference = tmp_path / "reference"
    Workspace.init(reference)
    ingest_to_end(reference, demo.companies)
    full_run = ingest_to_end(reference, demo.deals)
    after = deal_count(reference)
    assert after > 15_000

    root = tmp_path / "ws"
    Workspace.init(root)
    ingest_to_end(root, demo.companies)
    before = deal_count(root)
    assert before == 0
    baseline = files_under(root, inputs)

    rng = random.Random(SEED)
    seen: list[int] = []
    for _ in range(KILLS):
        proc = icp("ingest", str(demo.deals), "--workspace", str(root), cwd=inputs)
        time.sleep(rng.uniform(0.05, full_run * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

        count = deal_count(root)  # the store opens after the kill
        assert count in (before, after), f"{count} deals: neither {before} nor {after}"
        seen.append(count)
        assert unmarked(files_under(root, inputs)) == baseline, "a stray file was left behind"

    ingest_to_end(root, demo.deals)
    assert deal_count(root) == after
    assert files_under(root, inputs) == baseline
    assert len(seen) == KILLS


def run_to_end(root: Path, *args: str, cwd: Path) -> float:
    started = time.monotonic()
    proc = icp(*args, "--workspace", str(root), cwd=cwd)
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_score_killed_at_random_moments_leaves_the_old_file_or_the_whole_new_one(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    demo = demo_crm(20_000, 11)
    root = tmp_path / "ws"
    Workspace.init(root)
    ingest_to_end(root, demo.companies)
    ingest_to_end(root, demo.deals)
    run_to_end(root, "derive", cwd=root)
    deals = deal_count(root)

    # Reference: the file an uninterrupted run writes, in a folder of its own.
    reference = tmp_path / "reference" / "scored.csv"
    reference.parent.mkdir()
    full_run = run_to_end(root, "score", str(demo.companies), "--out", str(reference), cwd=root)
    expected = reference.read_bytes().count(b"\n")
    assert expected > 10_000

    out = tmp_path / "out"
    out.mkdir()
    target = out / "scored.csv"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    baseline = files_under(root, demo.deals.parent, cwd)
    rng = random.Random(SEED + 1)
    for k in range(KILLS):
        # SIGKILL cannot be caught; SIGTERM (a container stop) must clean up on the way out.
        how = signal.SIGTERM if k % 2 else signal.SIGKILL
        proc = icp(
            "score", str(demo.companies), "--out", str(target), "--workspace", str(root), cwd=cwd
        )
        time.sleep(rng.uniform(0.05, full_run * 1.1))
        proc.send_signal(how)
        proc.wait(timeout=60)

        own = proc.pid if how == signal.SIGTERM else None
        left = sorted(unmarked({p.name for p in out.iterdir()}, own))
        assert left in ([], ["scored.csv"]), f"left next to the target after {how.name}: {left}"
        if left:
            assert target.read_bytes().count(b"\n") == expected, "a partial file was written"
        now = files_under(root, demo.deals.parent, cwd)
        assert unmarked(now, own) == baseline, f"a stray file after {how.name}"
        assert deal_count(root) == deals

    run_to_end(root, "score", str(demo.companies), "--out", str(target), cwd=cwd)
    assert target.read_bytes().count(b"\n") == expected
    assert sorted(p.name for p in out.iterdir()) == ["scored.csv"]  # the killed runs' swept
    assert files_under(root, demo.deals.parent, cwd) == baseline
