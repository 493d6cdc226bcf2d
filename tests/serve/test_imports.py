"""The web stack stays out of everything but ``icp serve``: scoring, the tokens and every
other command run without importing FastAPI, Starlette or uvicorn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app

WEB = ("fastapi", "starlette", "uvicorn")


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_icp_score_and_icp_token_do_not_import_the_web_stack(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    root = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_key,employees,industry\na.example,120,Software\n")
    out = run_python(
        f"""
        import sys
        import icpkit.workspace
        from icpkit.cli.main import app
        for argv in (["score", {str(accounts)!r}, "--workspace", {str(root)!r}],
                     ["token", "create", "--name", "x", "--workspace", {str(root)!r}],
                     ["token", "list", "--workspace", {str(root)!r}]):
            try:
                app(argv)
            except SystemExit as exc:
                assert not exc.code, (argv, exc.code)
        print("web stack:", ",".join(m for m in {WEB!r} if m in sys.modules))
        """
    )
    assert out.splitlines()[-1] == "web stack:"


def test_the_serve_package_imports_the_web_stack_only_in_its_app_and_server() -> None:
    out = run_python(
        f"""
        import sys
        import icpkit.serve, icpkit.serve.tokens, icpkit.serve.scorer, icpkit.serve.live
        import icpkit.serve.batching, icpkit.serve.metrics, icpkit.serve.server
        print("web stack:", ",".join(m for m in {WEB!r} if m in sys.modules))
        """
    )
    assert out == "web stack:"


def test_icp_serve_without_the_extra_says_how_to_install_it(
    tmp_path: Path, demo_workspace: DemoWorkspaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    root = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in WEB else real(name, *a)
    )
    result = CliRunner().invoke(app, ["serve", "--workspace", str(root)])
    assert result.exit_code == 1
    assert "needs FastAPI and uvicorn" in result.output
    assert "pip install 'icpkit[serve]'" in result.output
    assert "Traceback" not in result.output


def test_icp_serve_without_an_icp_says_so_and_announces_no_address(tmp_path: Path) -> None:
    from icpkit.workspace import Workspace

    root = Workspace.init(tmp_path / "ws").root
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--workspace", str(root)])
    assert result.exit_code == 1
    assert "no ICP yet: run `icp derive` first" in result.output
    assert "serving" not in result.output
