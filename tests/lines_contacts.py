"""A demo CRM with two product lines and contacts (``make_crm(..., product_lines=2,
contacts=True)``: each line its own Pipeline and planted ICP, one planted buyer persona for
both), ingested once per test run, with the main ICP and one named ICP per pipeline derived:
the workspace the tests of named ICPs' personas and report sections read."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import DemoWorkspace
from icpkit.demo import make_crm
from icpkit.workspace import Workspace
from once import once

PIPELINES = {"sales_pipeline": "Sales Pipeline", "compliance_pipeline": "Compliance Pipeline"}
"""The named ICPs ``derive --by pipeline`` declares, and the pipeline each learns from."""


def lines_with_contacts(
    factory: pytest.TempPathFactory, n_deals: int = 5000, seed: int = 2
) -> DemoWorkspace:
    """The shared workspace (read it, or take a ``.copy``): main ICP and ``derive --by
    pipeline`` derived, contacts ingested."""

    def make(root: Path) -> DemoWorkspace:
        files = make_crm(n_deals, seed, root / "crm", product_lines=2, contacts=True)
        ws = Workspace.init(root / "ws")
        assert ws.ingest(files.exports()).ok
        ws.derive()
        by = ws.derive_by("pipeline")
        assert sorted(name for name, _ in by.derived) == sorted(PIPELINES), by.skipped
        return DemoWorkspace(files, ws.root)

    return once(factory, f"lines-contacts-{n_deals}-{seed}", make)
