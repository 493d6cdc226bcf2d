"""A demo CRM with two product lines (``make_crm(..., product_lines=2)``: each line its own
Pipeline and planted ICP), ingested once per test run, with the main ICP and one named ICP
per pipeline derived: the workspace the tests of several ICPs read."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import DemoWorkspace
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
from once import once


def two_line_workspace(
    factory: pytest.TempPathFactory, n_deals: int = 3000, seed: int = 11
) -> DemoWorkspace:
    """The shared workspace (read it, or take a ``.copy``): main ICP and ``derive --by
    pipeline`` derived."""

    def make(root: Path) -> DemoWorkspace:
        files = make_crm(n_deals, seed, root / "crm", product_lines=2)
        ws = Workspace.init(root / "ws")
        assert ws.ingest(files.exports()).ok
        ws.derive()
        by = ws.derive_by("pipeline")
        assert len(by.derived) == 2, by.skipped
        return DemoWorkspace(files, ws.root)

    return once(factory, f"two-lines-{n_deals}-{seed}", make)
