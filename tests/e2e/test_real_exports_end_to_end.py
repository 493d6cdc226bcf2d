"""Every real-layout deals export runs the whole way, ingest to lookalike, with no configuration.

For each deals set of tests/fixtures/crm: ``icp ingest`` of the folder's files, then ``icp
derive``, ``icp backtest``, ``icp score`` of the set's companies file, and ``icp tam`` and
``icp lookalike`` on both company universes (the 2013 company database and the fast-growth
list, raw as published). Every step must exit 0 with no traceback and no ``nan`` in what it
prints; a step that fails is reported with its output's last line, and the steps after it
still run (a failed ingest may have loaded the other files) so one report shows every
broken step of a set.
"""

from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow

CRM = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
NOT_EXPORTS = {"expected.json", "build.py", "README.md"}
UNIVERSES = {
    "company_db_2013": CRM / "company_db_2013" / "companies.csv",
    "inc5000": CRM / "inc5000" / "inc5000_2014.csv",
}
NAN = re.compile(r"(?<![\w/])nan(?![\w/])", re.IGNORECASE)


def _expected(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "expected.json").read_text(encoding="utf-8"))


DEAL_SETS = sorted(
    p.name
    for p in CRM.iterdir()
    if (p / "expected.json").is_file() and _expected(p)["kind"] == "deals"
)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def _problem(result: Any) -> str | None:
    """What is wrong with one command's result, in a line; None when it ran clean."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        frame = traceback.extract_tb(result.exception.__traceback__)[-1]
        return (
            f"traceback {type(result.exception).__name__}: {str(result.exception)[:160]} "
            f"(at {Path(frame.filename).name}:{frame.lineno})"
        )
    output = result.output
    if "this is a bug in icpkit" in output:
        # The command caught an unexpected exception: a traceback behind a message.
        error = next((ln for ln in output.splitlines() if "error" in ln), _last_line(output))
        return f"internal error (a traceback under --debug): {error.strip()[:200]}"
    if result.exit_code != 0:
        return f"exit {result.exit_code}: {_last_line(output)}"
    if "Traceback" in output:
        return "exit 0 but a traceback printed"
    match = NAN.search(output)
    if match:
        line = next(ln for ln in output.splitlines() if NAN.search(ln))
        return f"'nan' printed: {line.strip()[:160]}"
    return None


@dataclass
class Run:
    """One deals set taken through every command: what went wrong, and the ICP derived."""

    failures: list[str]
    icp_attributes: list[str] | None


_RUNS: dict[str, Run] = {}


def run_pipeline(name: str, root: Path) -> Run:
    """Ingest the set into a fresh workspace and run every command on it, once per session."""
    if name in _RUNS:
        return _RUNS[name]
    folder = CRM / name
    expected = _expected(folder)
    files = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.name not in NOT_EXPORTS)
    score_file = (folder / expected["score_file"]).resolve()
    ws = str(root / "ws")
    runner = CliRunner()
    steps: list[tuple[str, list[str]]] = [
        ("init", ["init", ws]),
        ("ingest", ["ingest", "-w", ws, *files]),
        ("derive", ["derive", "-w", ws]),
        ("backtest", ["backtest", "-w", ws]),
        ("score", ["score", "-w", ws, str(score_file)]),
    ]
    for universe, path in UNIVERSES.items():
        steps.append((f"tam {universe}", ["tam", "-w", ws, str(path)]))
        steps.append((f"lookalike {universe}", ["lookalike", "-w", ws, str(path)]))
    failures = []
    attributes: list[str] | None = None
    for step, args in steps:
        problem = _problem(runner.invoke(app, args))
        if problem:
            failures.append(f"{step}: {problem}")
            if step == "init":
                break
        if step == "derive" and not problem:
            icp = Workspace.open(ws).current_icp()
            attributes = (
                [r.attribute for r in (*icp.boundary, *icp.fit, *icp.exclusions)] if icp else []
            )
    _RUNS[name] = Run(failures, attributes)
    return _RUNS[name]


@pytest.mark.parametrize("name", DEAL_SETS)
def test_deals_export_runs_from_ingest_to_lookalike(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = run_pipeline(name, tmp_path_factory.mktemp(name))
    assert not run.failures, f"{name}:\n  " + "\n  ".join(run.failures)


@pytest.mark.parametrize("name", DEAL_SETS)
def test_derived_profile_judges_the_planted_segment(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Mid-size companies of one industry win about seven times as often in every set: a
    profile derived from it has a criterion or an exclusion on industry or on employees."""
    run = run_pipeline(name, tmp_path_factory.mktemp(name))
    assert run.icp_attributes is not None, f"{name}: no ICP derived ({'; '.join(run.failures)})"
    planted = [a for a in run.icp_attributes if a.startswith(("industry", "employees"))]
    assert planted, f"{name}: the ICP judges only {run.icp_attributes or 'nothing'}"
