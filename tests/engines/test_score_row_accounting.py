"""``icp score`` of a CSV in the input layout accounts for every record: each one is scored
or reported with its line, a quote never closed does not hide the rows after it, and a file
named like a glob is read alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.workspace import Workspace
from small_crm import SmallCrm, write_crm

LAYOUT_HEADER = "account_key,name,employees,industry,country"


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> SmallCrm:
    crm = write_crm(tmp_path_factory.mktemp("crm"), 40, varied=True)
    crm.ws.derive()
    return crm


def layout_rows(n: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i}.com,Name {i},60,Software,US" for i in range(n)]


@pytest.mark.slow
def test_a_quote_never_closed_leaves_none_of_300_rows_unaccounted(
    crm: SmallCrm, tmp_path: Path
) -> None:
    rows = layout_rows(300)
    rows[5] = rows[5].replace("Name 5", '"Name 5')  # line 7, never closed
    path = tmp_path / "prospects.csv"
    path.write_text("\n".join([LAYOUT_HEADER, *rows]) + "\n", encoding="utf-8")

    scored = Workspace.open(crm.ws.root).score_file(path)

    reported = [p for p in scored.problems if "unbalanced quote" in p]
    assert scored.total + len(reported) == 300
    assert scored.total == 5
    assert reported[0].startswith("prospects.csv, line 7:")
    assert reported[-1].startswith("prospects.csv, line 301:")
    assert {r["account_key"] for r in scored.rows()} == {f"p{i}.com" for i in range(5)}


def test_the_score_command_reports_the_lines_it_set_aside(crm: SmallCrm, tmp_path: Path) -> None:
    rows = layout_rows(30)
    rows[20] = rows[20].replace("Name 20", '"Name 20')
    path = tmp_path / "prospects.csv"
    path.write_text("\n".join([LAYOUT_HEADER, *rows]) + "\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["score", str(path), "-w", str(crm.ws.root)])

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "line 22" in text and "never closed" in text


def test_a_file_named_like_a_glob_scores_only_its_own_rows(crm: SmallCrm, tmp_path: Path) -> None:
    (tmp_path / "accounts1.csv").write_text(
        "\n".join([LAYOUT_HEADER, *layout_rows(7, "other")]) + "\n", encoding="utf-8"
    )
    own = tmp_path / "accounts[1].csv"
    own.write_text("\n".join([LAYOUT_HEADER, *layout_rows(3)]) + "\n", encoding="utf-8")

    scored = Workspace.open(crm.ws.root).score_file(own)

    assert sorted(r["account_key"] for r in scored.rows()) == ["p0.com", "p1.com", "p2.com"]


def test_rows_swallowed_by_a_quote_in_the_last_column_are_reported_not_scored_as_one(
    crm: SmallCrm, tmp_path: Path
) -> None:
    rows = layout_rows(30)
    rows[9] = rows[9].removesuffix("US") + '"US'  # line 11 opens a quote ...
    rows[10] = rows[10] + '"'  # ... line 12 closes it: one record, the right width
    path = tmp_path / "prospects.csv"
    path.write_text("\n".join([LAYOUT_HEADER, *rows]) + "\n", encoding="utf-8")

    scored = Workspace.open(crm.ws.root).score_file(path)

    reported = [p for p in scored.problems if "unbalanced quote" in p]
    assert [p.split(":")[0] for p in reported] == [
        "prospects.csv, line 11",
        "prospects.csv, line 12",
    ]
    assert scored.total == 28
    assert "p9.com" not in {r["account_key"] for r in scored.rows()}
