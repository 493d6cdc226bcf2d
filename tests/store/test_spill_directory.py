"""DuckDB's spill files go inside the workspace (or a configured folder), never the cwd."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from icpkit.config import save_settings
from icpkit.output.files import TEMP_MARK
from icpkit.store import connect
from icpkit.workspace import Workspace


def _spill(con: duckdb.DuckDBPyConnection) -> Path:
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    assert row is not None
    return Path(row[0])


def test_a_workspace_connection_spills_inside_the_workspace(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with ws.connect() as con:
        folder = _spill(con)
    assert folder.parent == ws.root / ".icp" / "tmp"
    assert folder.name == f".spill{TEMP_MARK}{os.getpid()}"


def test_a_configured_temp_directory_is_read_relative_to_the_workspace(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.store.temp_directory = "scratch"
    save_settings(ws.settings, ws.root / "icp.yaml")
    with Workspace.open(ws.root).connect(read_only=True) as con:
        assert _spill(con).parent == ws.root / "scratch"


def test_a_scratch_connection_never_spills_into_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    con = connect(":memory:")
    try:
        folder = _spill(con)
    finally:
        con.close()
    assert folder.is_absolute() and tmp_path not in folder.parents


@pytest.mark.slow
def test_a_query_larger_than_memory_leaves_nothing_in_the_cwd_or_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.init(tmp_path / "ws")
    with ws.connect() as con:
        con.execute("SET memory_limit = '40MB'; SET threads = 1")
        rows = con.execute(
            "SELECT count(DISTINCT h) FROM (SELECT md5(range::VARCHAR) h FROM range(1500000) "
            "ORDER BY h)"
        ).fetchone()
    assert rows == (1_500_000,)
    assert not (tmp_path / ".tmp").exists()
    assert list((ws.root / ".icp" / "tmp").iterdir()) == []
