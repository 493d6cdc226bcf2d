"""Customer tiers decide nothing in a derivation: the lift's Tier 1 shares are reported by
`icp analyze lift` and the report only, so `icp derive` does not read the tiers, and the ICP
it derives is the same whatever the tier settings say."""

from __future__ import annotations

from pathlib import Path

import pytest

from icpkit.config import save_settings
from icpkit.demo import make_crm
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiers")
    files = make_crm(3000, 5, root / "crm")
    ws = Workspace.init(root / "ws")
    assert ws.ingest(files.exports()).ok
    return ws.root


def _derived(root: Path) -> dict:
    icp = Workspace.open(root).derive().icp.model_dump(mode="json")
    icp.pop("derived_at")
    return icp


def test_derive_does_not_read_the_customers_tiers(crm: Path, monkeypatch) -> None:
    def refuse(self: Workspace) -> None:
        raise AssertionError("derive read the customers' tiers")

    monkeypatch.setattr(Workspace, "tiers", refuse)
    assert Workspace.open(crm).derive().icp.fit  # derived, with rules, without them


def test_the_icp_is_the_same_whatever_the_tier_settings(crm: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "ws"
    shutil.copytree(crm, other)
    ws = Workspace.open(other)
    ws.settings.tiers.weights = {"acv": 5.0, "fast_cycle": 0.0}
    ws.settings.tiers.tier1_min_points = 1.0
    save_settings(ws.settings, ws.config_path)
    before = Workspace.open(crm).tiers().counts()
    assert Workspace.open(other).tiers().counts() != before  # the settings do move the tiers
    assert _derived(other) == _derived(crm)
