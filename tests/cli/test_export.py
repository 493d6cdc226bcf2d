"""``icp export``: each target written where asked (or into the workspace's exports folder),
the ICP version printed; no ICP and a bad option are one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app

runner = CliRunner()


def icp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def derived(demo_workspace: DemoWorkspaces, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the small derived demo workspace (the default folder writes in it)."""
    return demo_workspace(800, 5, derived=True).copy(tmp_path_factory.mktemp("cli") / "ws").root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "files"),
    [
        ("clay", ["README.md", "formulas.csv", "rules.csv"]),
        ("sheets", ["formulas.txt"]),
        ("dbt", ["models/icp_scores.sql", "models/schema.yml"]),
        ("prospecting", ["prospecting.json"]),
    ],
)
def test_each_target_is_written_and_names_the_icp_version(
    derived: Path, tmp_path: Path, target: str, files: list[str]
) -> None:
    code, out = icp("export", target, "-w", str(derived), "--out", str(tmp_path / target))
    assert code == 0, out
    assert out.startswith(f"{target}: ICP version 1, made ")
    written = sorted(
        str(p.relative_to(tmp_path / target)) for p in (tmp_path / target).rglob("*") if p.is_file()
    )
    assert written == files
    for name in files:
        assert str(tmp_path / target / name) in out


@pytest.mark.slow
def test_without_out_the_export_goes_to_the_workspace_exports_folder(derived: Path) -> None:
    code, out = icp("export", "prospecting", "-w", str(derived), "--format", "md")
    assert code == 0, out
    page = derived / "exports" / "prospecting" / "prospecting.md"
    assert page.read_text(encoding="utf-8").startswith("# Prospecting filters (ICP version 1")


@pytest.mark.slow
def test_sheet_columns_can_be_placed(derived: Path, tmp_path: Path) -> None:
    code, out = icp(
        "export",
        "sheets",
        "-w",
        str(derived),
        "-o",
        str(tmp_path),
        "--columns",
        "industry=Q,employees=R",
        "--columns",
        "score=Z",
    )
    assert code == 0, out
    text = (tmp_path / "formulas.txt").read_text(encoding="utf-8")
    assert "  Q  industry:" in text and "  R  employees:" in text and "  Z  score:" in text
    assert 'TRIM(Q2)="Software"' in text and "R2>=51" in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--columns", "industry"], "--columns 'industry': write FIELD=LETTER"),
        (["--columns", "industry=B,planet=C"], "--columns names planet"),
        (["--columns", "industry=B2"], "--columns industry=B2: a column letter is A to ZZZ"),
    ],
)
def test_bad_sheet_columns_are_one_line(
    derived: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = icp("export", "sheets", "-w", str(derived), "-o", str(tmp_path), *args)
    assert code in (1, 2)
    assert message in out and "Traceback" not in out


def test_no_icp_is_refused_with_what_to_run(tmp_path: Path) -> None:
    code, out = icp("init", str(tmp_path / "ws"))
    assert code == 0, out
    code, out = icp("export", "clay", "-w", str(tmp_path / "ws"))
    assert code == 1
    assert "no ICP yet: run `icp derive` first" in out
    assert not (tmp_path / "ws" / "exports").exists()


@pytest.mark.slow
def test_dbt_with_a_source_and_a_dialect(derived: Path, tmp_path: Path) -> None:
    code, out = icp(
        "export",
        "dbt",
        "-w",
        str(derived),
        "-o",
        str(tmp_path),
        "--dialect",
        "bigquery",
        "--source",
        "crm",
    )
    assert code == 0, out
    sql = (tmp_path / "models" / "icp_scores.sql").read_text(encoding="utf-8")
    assert "{{ source('crm', 'accounts') }}" in sql and "(bigquery)" in sql
    assert "models/sources.yml" in out.replace("\\", "/")


@pytest.mark.slow
def test_prospecting_json_is_one_document(derived: Path, tmp_path: Path) -> None:
    code, out = icp("export", "prospecting", "-w", str(derived), "-o", str(tmp_path))
    assert code == 0, out
    doc = json.loads((tmp_path / "prospecting.json").read_text(encoding="utf-8"))
    assert doc["icp_version"] == 1 and doc["generated_by"] == "icpkit"
