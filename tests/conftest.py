"""Shared fixtures: fresh workspaces, demo workspaces built once per session, and the
real-layout export files in tests/fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import FIXTURES, DemoCrm, DemoWorkspace, DemoWorkspaces, run_query
from icpkit.demo import DemoFiles, make_crm
from icpkit.workspace import Workspace


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def empty_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace folder as ``Workspace.init`` leaves it, made once and copied per test."""
    root = tmp_path_factory.mktemp("empty") / "ws"
    Workspace.init(root)
    return root


@pytest.fixture
def ws(tmp_path: Path, empty_workspace: Path) -> Workspace:
    """A fresh, empty workspace at ``tmp_path/ws`` (a copy of one made by ``Workspace.init``)."""
    shutil.copytree(empty_workspace, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")


def _fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``root``."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def demo_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCrm]:
    """``demo_crm(n_deals, seed)``: the demo CRM's files, generated once per session.

    The files are shared: read them, never change them (copy one to change it); at the end
    of the session a changed file fails the run, naming its folder.
    """
    made: dict[tuple[int, int], DemoFiles] = {}
    prints: dict[Path, dict[str, tuple[int, int]]] = {}

    def get(n_deals: int, seed: int) -> DemoFiles:
        if (n_deals, seed) not in made:
            out = tmp_path_factory.mktemp(f"crm-{n_deals}-{seed}-")
            made[n_deals, seed] = make_crm(n_deals, seed, out)
            prints[out] = _fingerprint(out)
        return made[n_deals, seed]

    yield get
    changed = [str(root) for root, before in prints.items() if _fingerprint(root) != before]
    assert not changed, f"a test changed the files of a shared demo CRM (copy them): {changed}"


@pytest.fixture(scope="session")
def demo_workspace(
    tmp_path_factory: pytest.TempPathFactory, demo_crm: DemoCrm
) -> Iterator[DemoWorkspaces]:
    """``demo_workspace(n_deals, seed, derived=False)``: the demo CRM of that size and seed
    ingested into a workspace once per session (and its ICP derived once, when asked).

    The workspace is shared and must stay as built: tests that change it take a
    ``.copy(tmp_path / "ws")``. At the end of the session a shared workspace that changed
    fails the run, naming it.
    """
    built: dict[tuple[int, int, bool], DemoWorkspace] = {}
    prints: dict[Path, dict[str, tuple[int, int]]] = {}

    def get(n_deals: int, seed: int, *, derived: bool = False) -> DemoWorkspace:
        key = (n_deals, seed, derived)
        if key not in built:
            files = demo_crm(n_deals, seed)
            root = tmp_path_factory.mktemp(f"demo-{n_deals}-{seed}{'-derived' * derived}-")
            if derived:
                ws = get(n_deals, seed).copy(root / "ws")
                result = ws.derive()
                assert result.written, result
            else:
                ws = Workspace.init(root / "ws")
                ingested = ws.ingest(files.exports())
                assert ingested.ok, ingested
            built[key] = DemoWorkspace(files, ws.root)
            prints[ws.root] = _fingerprint(ws.root)
        return built[key]

    yield get
    changed = [str(root) for root, before in prints.items() if _fingerprint(root) != before]
    assert not changed, f"a test changed a shared demo workspace (take a copy): {changed}"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under tmp_path/in from text (UTF-8, newlines as given) or bytes."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return _write


@pytest.fixture
def query() -> Callable[[Workspace, str], list[tuple[object, ...]]]:
    return run_query
