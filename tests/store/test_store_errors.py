"""Failures of the machine and of the workspace's own files are told as what they are, in
one line with what to do, never as a traceback: a full disk, too little memory, a damaged
store, an icp.yaml not in UTF-8, a file where a workspace should go, a read-only folder."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import icpkit.ingest.pipeline as pipeline
from icpkit.cli.main import app
from icpkit.config import ConfigError, load_settings
from icpkit.errors import DiskFullError, IcpkitError, OutOfMemoryError, ReadOnlyError
from icpkit.store.db import StoreError
from icpkit.workspace import Workspace, WorkspaceError

runner = CliRunner()

COMPANIES = (
    "Record ID,Company name,Company Domain Name,Number of Employees,Industry,Country/Region\n"
    + "".join(
        f"{100 + i},Co {i},co{i}.com,{20 + 10 * i},Software,United States\n" for i in range(40)
    )
)
DEALS = "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company IDs\n" + (
    "".join(
        f"{900 + i},Deal {i},{'Closed Won' if i % 2 else 'Closed Lost'},{1000 + i},"
        f"2024-03-{1 + i % 28:02d},2024-01-{1 + i % 28:02d},{100 + i % 40}\n"
        for i in range(80)
    )
)


def icp(*args: str) -> Any:
    """Run the ``icp`` command in process; stderr separate from stdout."""
    return runner.invoke(app, list(args), catch_exceptions=False)


def assert_clean_failure(result: Any, *needles: str) -> str:
    """Exit 1 with one ``error:`` line holding every needle, and no traceback."""
    text = result.stderr
    assert result.exit_code == 1, (result.exit_code, result.stdout, text)
    assert "Traceback" not in text and "Traceback" not in result.stdout
    assert text.lstrip().startswith("error: "), text
    flat = " ".join(text.split())
    for needle in needles:
        assert needle in flat, (needle, text)
    return flat


@pytest.fixture
def loaded(tmp_path: Path) -> Workspace:
    """A workspace holding 40 companies and 80 closed deals."""
    (tmp_path / "companies.csv").write_text(COMPANIES, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest([tmp_path / "companies.csv"]).ok
    return ws


def counts(ws: Workspace) -> dict[str, int]:
    return dict(ws.summary()["counts"])


# --- one family of errors -------------------------------------------------------------


def test_every_error_class_of_icpkit_is_an_icpkit_error() -> None:
    import icpkit.engines.features as features
    import icpkit.ingest.fields as fields
    import icpkit.ingest.problems as problems
    import icpkit.operate.lookalike as lookalike
    import icpkit.operate.tam as tam
    import icpkit.operate.universe as universe
    import icpkit.validate.backtest as backtest
    from icpkit.icp.model import ICPError

    for cls in (
        ConfigError,
        StoreError,
        WorkspaceError,
        problems.IngestError,
        fields.FormatsError,
        ICPError,
        universe.UniverseError,
        lookalike.LookalikeError,
        tam.TamError,
        features.ScoringError,
        backtest.BacktestError,
    ):
        assert issubclass(cls, IcpkitError), cls


def test_cli_prints_an_icpkit_error_from_any_module_with_its_hint(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Elsewhere(IcpkitError):
        pass

    Elsewhere.__module__ = "plugin.outside"  # not an icpkit module: recognized by its class

    def refuse(self: Workspace) -> dict[str, Any]:
        raise Elsewhere("the thing is wrong", hint="do the other thing")

    monkeypatch.setattr(Workspace, "summary", refuse)
    result = icp("summary", "--workspace", str(loaded.root))
    assert_clean_failure(result, "the thing is wrong")
    assert "hint: do the other thing" in result.stderr
    assert "bug in icpkit" not in result.stderr


def test_debug_shows_the_traceback_of_an_icpkit_error(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Workspace) -> dict[str, Any]:
        raise WorkspaceError("the thing is wrong")

    monkeypatch.setattr(Workspace, "summary", refuse)
    with pytest.raises(WorkspaceError):
        icp("--debug", "summary", "--workspace", str(loaded.root))


# --- disk full --------------------------------------------------------------------------


def _commit_fails_for_lack_of_space(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> None:
    """The file's transaction ends as DuckDB ends it on a full disk: the commit fails and
    the transaction is gone, so the caller's ROLLBACK fails too."""
    real_load = pipeline._load

    def load_then_fail(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> None:
        real_load(con, *args, **kwargs)
        con.execute("ROLLBACK")
        raise duckdb.TransactionException(
            f'TransactionContext Error: Failed to commit: Could not write file "{ws.store_path}'
            '.wal": No space left on device'
        )

    monkeypatch.setattr(pipeline, "_load", load_then_fail)


@pytest.mark.slow
def test_disk_full_during_ingest_says_disk_full_and_nothing_was_changed(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(loaded)
    _commit_fails_for_lack_of_space(monkeypatch, loaded)
    deals = loaded.root.parent / "deals.csv"
    result = icp("ingest", str(deals), "--workspace", str(loaded.root))
    flat = assert_clean_failure(result, "disk full while writing", "free space and re-run")
    assert "nothing was changed" in flat
    assert "rollback" not in flat.lower()
    monkeypatch.undo()
    assert counts(loaded) == before


@pytest.mark.slow
def test_disk_full_in_the_library_is_a_disk_full_error(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _commit_fails_for_lack_of_space(monkeypatch, loaded)
    with pytest.raises(DiskFullError, match="disk full while writing"):
        loaded.ingest([loaded.root.parent / "deals.csv"])


@pytest.mark.slow
def test_disk_full_while_saving_a_derived_icp_says_disk_full(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loaded.ingest([loaded.root.parent / "deals.csv"]).ok
    target = loaded.config_path

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr("icpkit.workspace.save_settings", full)
    result = icp("derive", "--workspace", str(loaded.root))
    assert_clean_failure(
        result, f"disk full while writing {target}", "free space and re-run", "nothing was changed"
    )
    # No version is left behind without the icp.yaml that holds it.
    monkeypatch.undo()
    assert Workspace.open(loaded.root).current_icp() is None
    assert not list((loaded.root / ".icp").rglob("v*.yaml"))


def test_disk_full_while_scoring_says_disk_full(
    loaded: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "scored.csv"

    def full(*args: Any, **kwargs: Any) -> None:
        raise duckdb.IOException(f'IO Error: Could not write file "{out}": No space left on device')

    monkeypatch.setattr("icpkit.engines.prospects.score_file", full)
    monkeypatch.setattr(Workspace, "require_icp", lambda self: None)
    result = icp(
        "score", str(loaded.root.parent / "companies.csv"), "--out", str(out),
        "--workspace", str(loaded.root),
    )  # fmt: skip
    assert_clean_failure(result, f"disk full while writing {out}")


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB file system, where the system lets tests mount one."""
    if not _can_mount():
        pytest.skip("mounting a small file system needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_during_ingest_says_disk_full(small_disk: Path, tmp_path: Path) -> None:
    big = tmp_path / "deals.csv"
    big.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date\n"
        + "".join(
            f"{i},A rather long deal name to fill the disk {i},Closed Won,{i},2024-03-01,"
            "2024-01-01\n"
            for i in range(60_000)
        ),
        encoding="utf-8",
    )
    ws = Workspace.init(small_disk / "ws")
    before = counts(ws)
    result = icp("ingest", str(big), "--workspace", str(ws.root))
    assert_clean_failure(result, "disk full while writing", "nothing was changed")
    assert counts(Workspace.open(ws.root)) == before


# --- memory ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["lots", "-1GB", "1 lot", ""])
def test_a_memory_limit_that_is_not_a_size_is_refused_when_settings_are_read(
    tmp_path: Path, value: str
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    text = ws.config_path.read_text(encoding="utf-8")
    assert "  memory_limit: null\n" in text
    ws.config_path.write_text(
        text.replace("  memory_limit: null\n", f"  memory_limit: '{value}'\n"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(ws.config_path)
    message = str(caught.value)
    assert "memory_limit" in message and "allowed" in message and repr(value) in message


def test_a_memory_limit_too_small_for_the_store_says_out_of_memory_with_the_limit(
    loaded: Workspace,
) -> None:
    text = loaded.config_path.read_text(encoding="utf-8")
    loaded.config_path.write_text(
        text.replace("  memory_limit: null\n", "  memory_limit: 1MB\n"), encoding="utf-8"
    )
    result = icp("summary", "--workspace", str(loaded.root))
    assert_clean_failure(result, "out of memory at store.memory_limit=1MB: raise it")


def test_out_of_memory_while_scoring_names_the_limit(
    loaded: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded.settings.store.memory_limit = "20MB"

    def starve(*args: Any, **kwargs: Any) -> None:
        raise duckdb.OutOfMemoryException(
            "Out of Memory Error: failed to allocate data of size 2.0 MiB (19.0 MiB/19.0 MiB used)"
        )

    monkeypatch.setattr("icpkit.engines.prospects.score_file", starve)
    monkeypatch.setattr(Workspace, "require_icp", lambda self: None)
    with pytest.raises(OutOfMemoryError, match=r"out of memory at store.memory_limit=20MB"):
        loaded.score_file(tmp_path / "any.csv", out=tmp_path / "scored.csv")


# --- the workspace's own files -------------------------------------------------------


def test_icp_yaml_not_in_utf8_names_the_file_and_where(loaded: Workspace) -> None:
    text = loaded.config_path.read_text(encoding="utf-8")
    name_line = next(line for line in text.splitlines() if line.startswith("name:"))
    line_no = text.splitlines().index(name_line) + 1
    loaded.config_path.write_bytes(
        text.replace(name_line, "name: Caf\xe9 Cr\xe8me").encode("cp1252")
    )
    result = icp("summary", "--workspace", str(loaded.root))
    assert_clean_failure(result, str(loaded.config_path), f"line {line_no}", "UTF-8")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "overwritten", "empty"])
def test_a_damaged_store_is_reported_with_what_to_do(loaded: Workspace, damage: str) -> None:
    data = loaded.store_path.read_bytes()
    broken = {"truncated": data[:20_000], "overwritten": b"not a database" * 100, "empty": b""}
    loaded.store_path.write_bytes(broken[damage])
    for command in ("summary", "ingest"):
        extra = [str(loaded.root.parent / "deals.csv")] if command == "ingest" else []
        result = icp(command, *extra, "--workspace", str(loaded.root))
        assert_clean_failure(
            result,
            f"the store {loaded.store_path} is damaged",
            "restore it from a backup or move it away and re-ingest",
        )


def test_init_on_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    target.write_text("notes\n", encoding="utf-8")
    result = icp("init", str(target))
    assert_clean_failure(result, f"{target} is a file, not a folder")
    assert target.read_text(encoding="utf-8") == "notes\n"


def test_init_on_an_existing_workspace_keeps_it_and_says_so(loaded: Workspace) -> None:
    before = counts(loaded)
    config = loaded.config_path.read_bytes()
    result = icp("init", str(loaded.root))
    assert result.exit_code == 0, result.stderr
    assert "workspace already" in " ".join(result.stdout.split())
    assert loaded.config_path.read_bytes() == config
    assert counts(loaded) == before


# --- read-only -------------------------------------------------------------------------


def test_ingest_into_a_read_only_store_says_read_only(
    loaded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = duckdb.connect

    def read_only_disk(database: str = ":memory:", read_only: bool = False, **kw: Any) -> Any:
        if not read_only and database == str(loaded.store_path):
            raise duckdb.IOException(
                f'IO Error: Cannot open file "{database}": Read-only file system'
            )
        return real(database, read_only=read_only, **kw)

    monkeypatch.setattr("icpkit.store.db.duckdb.connect", read_only_disk)
    result = icp("summary", "--workspace", str(loaded.root))
    assert result.exit_code == 0, result.stderr
    result = icp("ingest", str(loaded.root.parent / "deals.csv"), "--workspace", str(loaded.root))
    assert_clean_failure(result, "read-only")
    with pytest.raises(ReadOnlyError):
        loaded.ingest([loaded.root.parent / "deals.csv"])


@pytest.fixture
def read_only_copy(loaded: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    """``loaded`` on a real read-only file system, where the system lets tests mount one."""
    if not _can_mount():
        pytest.skip("mounting a read-only file system needs root")
    disk = tmp_path / "ro"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        assert loaded.ingest([loaded.root.parent / "deals.csv"]).ok
        loaded.derive()
        shutil.copytree(loaded.root, disk / "ws")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        yield Workspace.open(disk / "ws")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_a_read_only_workspace_reads_and_refuses_to_write(read_only_copy: Workspace) -> None:
    root = str(read_only_copy.root)
    summary = icp("summary", "--workspace", root)
    assert summary.exit_code == 0, summary.stderr
    assert "deals 80" in " ".join(summary.stdout.split())
    lift = icp("analyze", "lift", "--workspace", root, "--format", "json")
    assert lift.exit_code == 0, lift.stderr
    result = icp("ingest", str(read_only_copy.root.parent.parent / "deals.csv"), "--force",
                 "--workspace", root)  # fmt: skip
    assert_clean_failure(result, "read-only")


@pytest.mark.slow
def test_scoring_a_read_only_workspace_writes_elsewhere(
    read_only_copy: Workspace, tmp_path: Path
) -> None:
    universe = tmp_path / "universe.parquet"
    keys = [f"co{i}.com" for i in range(40)]
    pq.write_table(
        pa.table(
            {
                "account_key": keys,
                "name": keys,
                "employees": [60] * 40,
                "industry": ["Software"] * 40,
                "country": ["US"] * 40,
            }
        ),
        universe,
    )
    out = tmp_path / "scored.csv"
    root = str(read_only_copy.root)
    result = icp("score", str(universe), "--out", str(out), "--workspace", root)
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").count("\n") == 41


# --- store versions, for readers too ----------------------------------------------------


def _set_schema_version(ws: Workspace, version: str) -> None:
    con = duckdb.connect(str(ws.store_path))
    try:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    finally:
        con.close()


def test_a_reader_refuses_a_store_of_a_newer_icpkit(loaded: Workspace) -> None:
    _set_schema_version(loaded, "999")
    result = icp("summary", "--workspace", str(loaded.root))
    assert_clean_failure(result, "written by a newer icpkit", "upgrade icpkit")


@pytest.mark.slow
def test_a_reader_brings_a_store_of_an_earlier_icpkit_up_to_date(loaded: Workspace) -> None:
    from icpkit.store.schema import STORE_SCHEMA_VERSION

    _set_schema_version(loaded, "1")
    assert counts(loaded)["accounts"] == 40
    con = duckdb.connect(str(loaded.store_path), read_only=True)
    try:
        [(stored,)] = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    finally:
        con.close()
    assert int(stored) == STORE_SCHEMA_VERSION
