"""One demo workspace and company universe shared by the TAM and lookalike tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import DemoWorkspaces
from icpkit.demo import DemoFiles, Universe, make_universe
from icpkit.workspace import Workspace
from once import once

AS_OF = dt.date(2025, 10, 1)


@dataclass(frozen=True)
class Demo:
    """A derived demo workspace, its CRM files, and a universe of its companies plus new ones."""

    ws: Workspace
    files: DemoFiles
    universe: Universe

    def truth(self) -> dict[str, dict[str, bool]]:
        """account_key -> {is_icp, customer}, the planted answer kept out of the universe."""
        rows = pq.read_table(self.universe.truth).to_pylist()
        return {r["account_key"]: r for r in rows}

    def companies(self) -> dict[str, dict[str, object]]:
        """account_key -> the universe row."""
        return {r["account_key"]: r for r in pq.read_table(self.universe.path).to_pylist()}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces) -> Demo:
    """The shared derived demo workspace of 4,000 deals, seed 3, and its universe (built once
    per test run; read only)."""
    derived = demo_workspace(4_000, 3, derived=True)

    def build(root: Path) -> Universe:
        return make_universe(derived.files, 20_000, 1, root / "universe")

    return Demo(derived.ws, derived.files, once(tmp_path_factory, "operate-universe", build))
