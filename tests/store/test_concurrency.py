"""Several icp commands on one workspace at once: readers work while an ingest runs, once it
has committed, after saying they wait; two ingests take turns; a wait that runs out is an
error naming who holds the workspace. Real processes, bounded in time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from icpkit.demo import make_crm
from icpkit.errors import StoreBusyError
from icpkit.store.db import connect
from icpkit.workspace import Workspace

ICP = Path(sys.executable).with_name("icp")
BOUND = 240  # seconds any one command may take here, waiting included
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scene:
    ws: Workspace
    big_deals: Path  # a deals export that takes seconds to ingest
    big_rows: int  # its deals
    universe: Path  # accounts in the scorer's input layout


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    root: Path = tmp_path_factory.mktemp("concurrency")
    small = make_crm(1_500, 5, root / "small")
    ws = Workspace.init(root / "ws")
    assert ws.ingest(small.exports()).ok
    ws.derive()
    big_rows = 80_000  # long enough to outlast a second process starting, on a fast machine
    big = make_crm(big_rows, 6, root / "big")
    keys = [f"prospect{i}.com" for i in range(500)]
    universe = root / "universe.parquet"
    pq.write_table(
        pa.table(
            {
                "account_key": keys,
                "name": keys,
                "employees": [60] * 500,
                "industry": ["Software"] * 500,
                "country": ["US"] * 500,
            }
        ),
        universe,
    )
    return Scene(Workspace.open(ws.root), big.deals, big_rows, universe)


def icp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ICP), *args],
        capture_output=True,
        text=True,
        timeout=BOUND,
        env={**os.environ, **(env or {})},
    )


def start_ingest(ws: Workspace, path: Path) -> subprocess.Popen[str]:
    """``icp ingest --force`` in the background, returned once it holds the store."""
    proc = subprocess.Popen(
        [str(ICP), "ingest", str(path), "--force", "--workspace", str(ws.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the ingest ended before it was seen writing: {proc.communicate()}")
        try:
            duckdb.connect(str(ws.store_path), read_only=True).close()
        except duckdb.IOException as exc:
            if f"PID {proc.pid}" in str(exc):
                return proc
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the ingest never locked the store")


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = proc.communicate(timeout=BOUND)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err
    return out, err


def deal_count(text: str) -> int:
    match = re.search(r"deals ([\d,]+)", " ".join(text.split()))
    assert match, text
    return int(match.group(1).replace(",", ""))


def stored_deals(ws: Workspace) -> int:
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM deals").fetchall()[0][0])
    finally:
        con.close()


def waited_for(proc: subprocess.Popen[str], stderr: str) -> bool:
    """Whether ``stderr`` says the command waited for ``proc``, naming it and how to stop."""
    said = " ".join(stderr.split())
    return f"being written by pid {proc.pid} (icp ingest); waiting" in said and "Ctrl-C" in said


def test_summary_and_score_during_an_ingest_wait_then_read_the_committed_store(
    scene: Scene, tmp_path: Path
) -> None:
    writer = start_ingest(scene.ws, scene.big_deals)
    try:
        summary = icp("summary", "--workspace", str(scene.ws.root))
        out = tmp_path / "scored.csv"
        score = icp("score", str(scene.universe), "--out", str(out), "--workspace",
                    str(scene.ws.root))  # fmt: skip
    finally:
        finish(writer)
    assert summary.returncode == 0, summary.stderr
    assert "Traceback" not in summary.stderr
    assert waited_for(writer, summary.stderr), summary.stderr
    # The reader saw the store as the ingest committed it: all of the file, never a part.
    assert deal_count(summary.stdout) == stored_deals(scene.ws) >= scene.big_rows
    assert score.returncode == 0, score.stderr
    assert "Traceback" not in score.stderr
    assert out.read_text(encoding="utf-8").count("\n") == 501


def test_two_ingests_take_turns_and_load_once(scene: Scene, tmp_path: Path) -> None:
    first = start_ingest(scene.ws, scene.big_deals)
    second = icp("ingest", str(scene.big_deals), "--force", "--workspace", str(scene.ws.root))
    finish(first)
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    assert waited_for(first, second.stderr), second.stderr
    con = duckdb.connect(str(scene.ws.store_path), read_only=True)
    try:
        keys, rows = con.execute("SELECT count(DISTINCT deal_key), count(*) FROM deals").fetchall()[
            0
        ]
    finally:
        con.close()
    assert keys == rows >= scene.big_rows


def test_a_wait_that_runs_out_names_who_holds_the_store(scene: Scene) -> None:
    # A writer that holds the store for as long as the test needs: an ingest may let
    # readers in between its files, which would make the wait end early.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(60)",
            str(scene.ws.store_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusyError, match=f"being written by pid {holder.pid}"):
            connect(scene.ws.store_path, read_only=True, wait=0.5, notice=None)
        started = time.monotonic()
        summary = icp("summary", "--workspace", str(scene.ws.root), env={"ICP_LOCK_WAIT": "1"})
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(timeout=BOUND)
    assert summary.returncode == 1
    assert "Traceback" not in summary.stderr
    said = " ".join(summary.stderr.split())
    assert f"being written by pid {holder.pid}" in said
    assert "for more than 1 s" in said
    assert waited < 60


def test_readers_share_the_store_with_each_other(scene: Scene) -> None:
    reader = connect(scene.ws.store_path, read_only=True, wait=0, notice=None)
    try:
        summary = icp("summary", "--workspace", str(scene.ws.root), env={"ICP_LOCK_WAIT": "0"})
    finally:
        reader.close()
    assert summary.returncode == 0, summary.stderr
    assert "waiting" not in summary.stderr
