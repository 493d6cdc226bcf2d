"""A HubSpot account on the loopback emulator for the sync tests: the demo CRM seeded into
it, and a derived workspace that pulled from it (built once per module, copied per test)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import DemoWorkspaces
from icpkit.crm.emulators.hubspot import ALL_SCOPES, HubSpotEmulator
from icpkit.demo import DemoFiles
from icpkit.workspace import Workspace

TOKEN = "pat-na1-5ecret-70ken-0f-the-test"
"""A private-app token no file, message or log may ever show."""


def environ(hub: HubSpotEmulator, token: str = TOKEN) -> dict[str, str]:
    """The environment a sync with ``hub`` runs in (no secrets file)."""
    return {
        "HUBSPOT_ACCESS_TOKEN": token,
        "ICPKIT_HUBSPOT_URL": hub.url,
        "ICPKIT_SECRETS_FILE": "/nonexistent/secrets.env",
    }


def seeded(files: DemoFiles, **kwargs: object) -> HubSpotEmulator:
    """A started emulator holding the demo CRM, the test token with every scope unless
    ``tokens`` says otherwise."""
    kwargs.setdefault("tokens", {TOKEN: ALL_SCOPES})
    kwargs.setdefault("rate", 10_000)
    hub = HubSpotEmulator(**kwargs).start()  # type: ignore[arg-type]
    hub.seed_demo(files)
    return hub


@dataclass
class Pulled:
    """A derived demo workspace that pulled the same demo CRM from HubSpot."""

    root: Path
    files: DemoFiles

    def copy(self, dest: Path) -> Workspace:
        shutil.copytree(self.root, dest)
        return Workspace.open(dest)


@pytest.fixture(scope="module")
def pulled(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> Iterator[Pulled]:
    demo = demo_workspace(800, 5, derived=True)
    ws = demo.copy(tmp_path_factory.mktemp("pulled") / "ws")
    with seeded(demo.files) as hub:
        result = ws.pull("hubspot", environ=environ(hub))
    assert result.objects[0].loaded == demo.files.n_company_rows, result.lines()
    yield Pulled(ws.root, demo.files)
