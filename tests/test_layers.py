"""The layers of icpkit: the CLI is a face of the Workspace, and nothing below the Workspace
calls back up into it (or into the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

import icpkit

SRC = Path(icpkit.__file__).parent
UPPER = ("icpkit.workspace", "icpkit.cli")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function or TYPE_CHECKING."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _lower_modules() -> list[Path]:
    return [
        p
        for p in sorted(SRC.rglob("*.py"))
        if p.relative_to(SRC).parts[0] != "cli" and p.name != "workspace.py"
    ]


def test_no_module_below_the_workspace_imports_the_workspace_or_the_cli() -> None:
    upward = {
        str(path.relative_to(SRC)): sorted(
            name for name in _imports(path) if name.startswith(UPPER)
        )
        for path in _lower_modules()
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_the_layer_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from icpkit.workspace import Workspace\n")
    assert "icpkit.workspace" in _imports(module)
