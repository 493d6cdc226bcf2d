"""``icp pull hubspot`` and ``icp push hubspot``: counts in words, failures in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hubspot_world import TOKEN, environ, seeded
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app
from icpkit.crm.emulators.hubspot import READ_SCOPES


def icp(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_pull_then_push_print_their_counts_in_words(
    tmp_path: Path, demo_workspace: DemoWorkspaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = demo_workspace(800, 5, derived=True)
    root = tmp_path / "ws"
    shutil.copytree(demo.root, root)
    with seeded(demo.files) as hub:
        for name, value in environ(hub).items():
            monkeypatch.setenv(name, value)
        code, pulled = icp("pull", "hubspot", "-w", str(root))
        assert code == 0, pulled
        code, dry = icp("push", "hubspot", "--dry-run", "-w", str(root))
        assert code == 0, dry
        assert not hub.writes
        code, pushed = icp("push", "hubspot", "-w", str(root))
        assert code == 0, pushed
        writes = sum(hub.writes.values())
    n = demo.files.n_company_rows
    assert f"companies: {n:,} read (everything), {n:,} loaded, 0 quarantined" in pulled
    assert "deals: 800 read (everything)" in pulled and "API calls" in pulled
    assert f"dry run: nothing written ({n:,} records would be)" in dry
    assert f"{n:,} records written, 0 refused" in pushed and writes == n
    assert TOKEN not in pulled + dry + pushed


def test_push_without_the_write_scope_fails_in_one_line_naming_it(
    tmp_path: Path, demo_workspace: DemoWorkspaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = demo_workspace(800, 5, derived=True)
    root = tmp_path / "ws"
    shutil.copytree(demo.root, root)
    with seeded(demo.files, tokens={TOKEN: READ_SCOPES}) as hub:
        for name, value in environ(hub).items():
            monkeypatch.setenv(name, value)
        code, out = icp("push", "hubspot", "-w", str(root))
    assert code == 1
    assert "crm.objects.companies.write" in out and "Traceback" not in out
    assert TOKEN not in out


def test_a_missing_token_is_one_line_naming_the_variable(
    tmp_path: Path, demo_workspace: DemoWorkspaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("ICPKIT_SECRETS_FILE", str(tmp_path / "absent.env"))
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace(800, 5, derived=True).root, root)
    code, out = icp("pull", "hubspot", "-w", str(root))
    assert code == 1 and "HUBSPOT_ACCESS_TOKEN is not set" in out
