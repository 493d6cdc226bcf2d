"""Shared fixtures: fresh workspaces, demo workspaces built once per test run, and the
real-layout export files in tests/fixtures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from helpers import FIXTURES, DemoCrm, DemoRun, DemoWorkspace, DemoWorkspaces, run_query
from icpkit.demo import DemoFiles, make_crm
from icpkit.workspace import Workspace
from once import once

# A worker process of a parallel run starts with COLUMNS=80 in its environment, where a run in
# one process has none; the command line's console reads COLUMNS once, when it is made, and
# would wrap every line at 80 whatever width a test then asks for. Start the workers alike.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)


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


T = TypeVar("T")
# What a shared build answers: its value, and the fingerprint of its files as built.
Built = tuple[T, dict[str, tuple[int, int]]]


def _fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``root``."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def demo_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCrm]:
    """``demo_crm(n_deals, seed)``: the demo CRM's files, generated once per test run (once
    for all worker processes of a parallel run).

    The files are shared: read them, never change them (copy one to change it); at the end
    of the session a changed file fails the run, naming its folder.
    """
    made: dict[tuple[int, int], DemoFiles] = {}
    prints: dict[Path, dict[str, tuple[int, int]]] = {}

    def build(n_deals: int, seed: int) -> Callable[[Path], Built[DemoFiles]]:
        def generate(out: Path) -> Built[DemoFiles]:
            return make_crm(n_deals, seed, out), _fingerprint(out)

        return generate

    def get(n_deals: int, seed: int) -> DemoFiles:
        if (n_deals, seed) not in made:
            files, printed = once(tmp_path_factory, f"crm-{n_deals}-{seed}", build(n_deals, seed))
            made[n_deals, seed] = files
            prints[files.out_dir] = printed
        return made[n_deals, seed]

    yield get
    changed = [str(root) for root, before in prints.items() if _fingerprint(root) != before]
    assert not changed, f"a test changed the files of a shared demo CRM (copy them): {changed}"


@pytest.fixture(scope="session")
def demo_workspace(
    tmp_path_factory: pytest.TempPathFactory, demo_crm: DemoCrm
) -> Iterator[DemoWorkspaces]:
    """``demo_workspace(n_deals, seed, derived=False)``: the demo CRM of that size and seed
    ingested into a workspace once per test run (and its ICP derived once, when asked).

    The workspace is shared and must stay as built: tests that change it take a
    ``.copy(tmp_path / "ws")``. At the end of the session a shared workspace that changed
    fails the run, naming it.
    """
    built: dict[tuple[int, int, bool], DemoWorkspace] = {}
    prints: dict[Path, dict[str, tuple[int, int]]] = {}

    def build(n_deals: int, seed: int, derived: bool) -> Callable[[Path], Built[DemoWorkspace]]:
        def make(root: Path) -> Built[DemoWorkspace]:
            files = demo_crm(n_deals, seed)
            if derived:
                ws = get(n_deals, seed).copy(root / "ws")
                result = ws.derive()
                assert result.written, result
            else:
                ws = Workspace.init(root / "ws")
                ingested = ws.ingest(files.exports())
                assert ingested.ok, ingested
            return DemoWorkspace(files, ws.root), _fingerprint(ws.root)

        return make

    def get(n_deals: int, seed: int, *, derived: bool = False) -> DemoWorkspace:
        key = (n_deals, seed, derived)
        if key not in built:
            name = f"demo-{n_deals}-{seed}{'-derived' * derived}"
            demo, printed = once(tmp_path_factory, name, build(n_deals, seed, derived))
            built[key] = demo
            prints[demo.root] = printed
        return built[key]

    yield get
    changed = [str(root) for root, before in prints.items() if _fingerprint(root) != before]
    assert not changed, f"a test changed a shared demo workspace (take a copy): {changed}"


def _run_icp_demo(root: Path) -> DemoRun:
    """``icp demo --rows 3000 --no-enrich --dir root/demo``, as the command line runs it."""
    from typer.testing import CliRunner

    from icpkit.cli.main import app

    folder = root / "demo"
    args = ["demo", "--rows", "3000", "--no-enrich", "--dir", str(folder)]
    result = CliRunner().invoke(app, args)
    raised = result.exception
    failure = None if raised is None or isinstance(raised, SystemExit) else repr(raised)
    return DemoRun(result.exit_code, result.output, failure, folder)


@pytest.fixture(scope="session")
def icp_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``icp demo`` on 3,000 deals without enrichment, run once per test run for the tests
    that judge what it prints and writes (read its folder, never change it)."""
    return once(tmp_path_factory, "icp-demo-3000", _run_icp_demo)


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
