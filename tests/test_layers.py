"""The layers of icpkit, enforced: each module imports only from its own layer or below, and
the modules import one another without a cycle.

    cli -> workspace -> (operate, validate, learn, report, demo, enrich, serve, export)
        -> engines
        -> (icp, analysis)
        -> (attributes, ingest) -> (store, config, output, the ICP document, vocabulary)

The CLI is a face of the Workspace; nothing below the Workspace calls back up into it. The
ICP document (``icp.model``) sits with the settings, as ``icp.yaml`` holds both.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

import icpkit

SRC = Path(icpkit.__file__).parent

# Module prefix -> layer; the longest prefix that matches a module decides.
LAYERS: dict[str, int] = {
    "icpkit.cli": 6,
    "icpkit.workspace": 5,
    "icpkit.operate": 4,
    "icpkit.validate": 4,
    "icpkit.learn": 4,
    "icpkit.demo": 4,
    "icpkit.report": 4,
    "icpkit.enrich": 4,
    "icpkit.export": 4,
    "icpkit.serve": 4,
    "icpkit.crm": 4,
    "icpkit.engines": 3,
    "icpkit.icp": 2,
    "icpkit.analysis": 2,
    "icpkit.attributes": 1,
    "icpkit.ingest": 1,
    "icpkit.icp.model": 0,
    "icpkit.store": 0,
    "icpkit.config": 0,
    "icpkit.output": 0,
    "icpkit.errors": 0,
    "icpkit.yamlfile": 0,
    "icpkit.vocabulary": 0,
    "icpkit": 0,
}


def module_name(path: Path, root: Path = SRC) -> str:
    parts = (root.name, *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def imports(path: Path, modules: Collection[str] = ()) -> set[str]:
    """Every icpkit module ``path`` imports: at the top, inside a function or TYPE_CHECKING.

    ``from a.b import c`` names the module ``a.b.c`` when that is one of ``modules``, else
    ``a.b`` (the module that holds the object ``c``).
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                names.add(inner if inner in modules else node.module)
    return {n for n in names if n == "icpkit" or n.startswith("icpkit.")}


def graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the icpkit modules it imports."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {
        name: {n for n in imports(path, modules) if n in modules and n != name}
        for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()

    def visit(v: str) -> Iterator[list[str]]:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                yield from visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                yield sorted(group)

    for v in sorted(edges):
        if v not in index:
            yield from visit(v)


def test_every_module_imports_only_from_its_layer_or_below() -> None:
    upward = {
        module: sorted(n for n in targets if layer(n) > layer(module))
        for module, targets in graph().items()
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_the_modules_import_one_another_without_a_cycle() -> None:
    assert list(cycles(graph())) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("def f():\n    from icpkit.workspace import Workspace\n", "icpkit.workspace"),
        ("import icpkit.cli.main\n", "icpkit.cli.main"),
        ("from json import dumps\n", None),
    ],
)
def test_the_import_reader_sees_imports_inside_functions(
    tmp_path: Path, source: str, found: str | None
) -> None:
    module = tmp_path / "late.py"
    module.write_text(source)
    assert imports(module) == ({found} if found else set())


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    root = tmp_path / "icpkit"
    (root / "store").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "store" / "__init__.py").write_text("from icpkit.workspace import Workspace\n")
    (root / "workspace.py").write_text("import icpkit.store\n")
    edges = graph(root)
    assert edges["icpkit.store"] == {"icpkit.workspace"}
    assert layer("icpkit.store") < layer("icpkit.workspace")
    assert list(cycles(edges)) == [["icpkit.store", "icpkit.workspace"]]


def test_the_cli_reaches_the_library_only_through_the_workspace_result_types_and_output() -> None:
    # Logic lives below; the CLI may name what the Workspace returns (result types, errors).
    allowed = ("icpkit.cli", "icpkit.workspace", "icpkit.output", "icpkit.errors")
    calls = {
        module: sorted(
            n for n in targets if not n.startswith(allowed) and not _is_type_only(module, n)
        )
        for module, targets in graph().items()
        if module.startswith("icpkit.cli")
    }
    assert {k: v for k, v in calls.items() if v} == {}


def _is_type_only(module: str, target: str) -> bool:
    path = SRC.joinpath(*module.split(".")[1:])
    path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
    return target in _type_checking_imports(path)


def _type_checking_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in node.body:
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    names.add(inner.module)
    return names


def test_the_cli_names_a_module_past_its_doors_only_for_type_checking() -> None:
    # A module imported for type checking may not also be imported where the code runs.
    allowed = ("icpkit.cli", "icpkit.workspace", "icpkit.output", "icpkit.errors")
    at_run_time: dict[str, list[str]] = {}
    for path in sorted((SRC / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for inner in node.body
        }
        names = sorted(
            name
            for node in ast.walk(tree)
            if id(node) not in typing_only
            for name in _imported(node)
            if name.startswith("icpkit") and not name.startswith(allowed)
        )
        if names:
            at_run_time[module_name(path)] = names
    assert at_run_time == {}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []
