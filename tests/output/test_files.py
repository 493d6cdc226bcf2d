"""Files written whole or not at all, and the temporary files of killed runs swept away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from icpkit.output.files import (
    TEMP_MARK,
    atomic_path,
    sweep_stale,
    temp_folder,
    temp_name,
    write_atomic,
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_finished_write_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous, complete")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("a fragm")
        raise OSError("disk full")
    assert target.read_text() == "previous, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_is_beside_the_target_and_named_for_it(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "sub" / "scored.csv") as tmp:
        assert tmp.parent == tmp_path / "sub"
        assert tmp.name == f".scored.csv{TEMP_MARK}{os.getpid()}"
        tmp.write_text("x")


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "v0001.yaml"
    target.write_text("first")
    with pytest.raises(FileExistsError):
        write_atomic(target, "second", overwrite=False)
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["v0001.yaml"]


def test_two_writes_in_one_process_get_distinct_names(tmp_path: Path) -> None:
    first = temp_name(tmp_path / "a.csv")
    first.write_text("")
    assert temp_name(tmp_path / "a.csv") != first


def test_the_sweep_removes_what_dead_processes_left_and_keeps_live_ones(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale_file = tmp_path / f".scored.csv{TEMP_MARK}{dead}"
    stale_dir = tmp_path / f".work{TEMP_MARK}{dead}-3"
    live = tmp_path / f".scored.csv{TEMP_MARK}{os.getpid()}"
    other = tmp_path / ".scored.csv.backup"
    stale_file.write_text("200 MB of half a file")
    stale_dir.mkdir()
    (stale_dir / "copy.csv").write_text("x")
    live.write_text("being written")
    other.write_text("not ours")
    assert sorted(sweep_stale(tmp_path)) == sorted([stale_file, stale_dir])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_a_write_sweeps_its_folder(tmp_path: Path) -> None:
    stale = tmp_path / f".old.csv{TEMP_MARK}{_dead_pid()}"
    stale.write_text("left by a kill")
    write_atomic(tmp_path / "new.csv", "a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv"]


def test_a_scratch_folder_goes_with_its_contents(tmp_path: Path) -> None:
    with temp_folder(tmp_path) as folder:
        (folder / "copy.csv").write_text("x")
        assert folder.parent == tmp_path and TEMP_MARK in folder.name
    assert list(tmp_path.iterdir()) == []
