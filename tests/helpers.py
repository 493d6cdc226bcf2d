"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from _pytest.mark.structures import ParameterSet

from icpkit.demo import DemoFiles
from icpkit.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"


def run_query(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` run on the workspace store."""
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@dataclass(frozen=True)
class DemoWorkspace:
    """A generated demo CRM ingested (and derived, when asked) into a workspace.

    The folder at ``root`` and the ``files`` are shared by every test that asks for the same
    CRM: read them and never write; a test that changes the workspace works on its own
    :meth:`copy`.
    """

    files: DemoFiles
    root: Path

    @property
    def ws(self) -> Workspace:
        """The shared workspace, opened afresh: settings changed in memory stay with the caller."""
        return Workspace.open(self.root)

    def copy(self, dest: Path) -> Workspace:
        """A private copy of the workspace (store, icp.yaml, ICP versions) at ``dest``."""
        shutil.copytree(self.root, dest)
        return Workspace.open(dest)


DemoCrm = Callable[[int, int], DemoFiles]
DemoWorkspaces = Callable[..., DemoWorkspace]


@dataclass(frozen=True)
class DemoRun:
    """What one ``icp demo`` run printed, and the folder it wrote (shared: read only)."""

    exit_code: int
    output: str
    failure: str | None  # the exception it raised, when it was not a plain exit
    folder: Path


@cache
def _tables(name: str) -> dict[str, list[tuple[int, Any]]]:
    """Every table of tests/fixtures/normalize/<name>.yaml as (line, row) pairs."""
    path = FIXTURES / "normalize" / f"{name}.yaml"
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise ValueError(f"{path}: expected a mapping of table name to rows")
    build = yaml.SafeLoader("")
    tables: dict[str, list[tuple[int, Any]]] = {}
    for key, rows in root.value:
        if not isinstance(rows, yaml.SequenceNode):
            raise ValueError(f"{path}:{key.start_mark.line + 1}: {key.value} is not a list of rows")
        tables[key.value] = [
            (row.start_mark.line + 1, build.construct_object(row, deep=True)) for row in rows.value
        ]
    return tables


def cases(name: str, table: str) -> list[ParameterSet]:
    """The rows of one table in tests/fixtures/normalize/<name>.yaml, as pytest parameters.

    A row written as a list holds the test's arguments in order; any other row is its one
    argument. Each parameter's id is ``<name>.yaml:<line>``, so a failing case names the
    line to read.
    """
    tables = _tables(name)
    if table not in tables:
        raise KeyError(f"tests/fixtures/normalize/{name}.yaml has no table {table!r}")
    return [
        pytest.param(*(row if isinstance(row, list) else [row]), id=f"{name}.yaml:{line}")
        for line, row in tables[table]
    ]
