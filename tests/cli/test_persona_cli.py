"""``icp demo-data --contacts``, ``icp analyze persona`` and ``icp contacts ACCOUNT``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from helpers import DemoWorkspaces
from icpkit.cli.main import app

runner = CliRunner()
PLANTED = {"VP in Sales", "Manager in Operations"}


def icp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def with_contacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the demo CRM with its planted persona, written by the CLI."""
    root = tmp_path_factory.mktemp("persona-cli")
    code, out = icp("demo-data", "--out", str(root / "crm"), "--rows", "3000", "--seed", "3",
                    "--contacts")  # fmt: skip
    assert code == 0, out
    assert "contacts.csv" in out
    code, out = icp("init", str(root / "ws"))
    assert code == 0, out
    exports = [
        str(root / "crm" / f"{n}.csv") for n in ("companies", "deals", "signals", "contacts")
    ]
    code, out = icp("ingest", *exports, "-w", str(root / "ws"))
    assert code == 0, out
    return root / "ws"


@pytest.mark.slow
def test_analyze_persona_names_whom_to_contact_first(with_contacts: Path) -> None:
    code, out = icp("analyze", "persona", "-w", str(with_contacts))
    assert code == 0, out
    first = next(line for line in out.splitlines() if line.startswith("Contact first: "))
    assert set(first.removeprefix("Contact first: ").rstrip(".").split(", then ")) == PLANTED
    assert "Buying committee" in out
    assert not re.search(r"\bnan\b", out, re.IGNORECASE)  # "Finance" holds "nan"


@pytest.mark.slow
def test_analyze_persona_json_lists_every_role_with_its_test(with_contacts: Path) -> None:
    code, out = icp("analyze", "persona", "-w", str(with_contacts), "--format", "json",
                    "--show", "all")  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc["persona"]) == PLANTED and len(doc["persona"]) == 2
    kinds = {r["kind"] for r in doc["rows"]}
    assert kinds == {"role", "seniority", "department"}
    vp = next(r for r in doc["rows"] if r["label"] == "VP in Sales")
    assert vp["verdict"] == "persona" and vp["lift_low"] > 1
    assert doc["contacts_after_close"] > 0
    assert [b["contacts_by_close"] for b in doc["committee"]][:2] == ["0", "1"]


@pytest.mark.slow
def test_contacts_of_an_account_put_the_persona_roles_first(with_contacts: Path) -> None:
    code, out = icp("derive", "-w", str(with_contacts))
    assert code == 0, out
    con = duckdb.connect(str(with_contacts / "workspace.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT account_key FROM contacts GROUP BY account_key HAVING "
            "bool_or(seniority = 'VP' AND department = 'Sales') AND count(*) >= 3 "
            "ORDER BY account_key LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    code, out = icp("contacts", str(row[0]), "-w", str(with_contacts), "--format", "json")
    assert code == 0, out
    rows = json.loads(out)["rows"]
    assert rows[0]["persona_role"] in PLANTED
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    code, out = icp("contacts", str(row[0]), "-w", str(with_contacts))
    assert code == 0 and out.startswith("Contact first: ")


def test_a_workspace_without_contacts_says_there_is_no_persona(
    demo_workspace: DemoWorkspaces,
) -> None:
    root = demo_workspace(800, 5).root
    code, out = icp("analyze", "persona", "-w", str(root))
    assert code == 0, out
    assert out.strip() == "No persona: the workspace has no contacts (ingest a contacts export)."
    code, out = icp("analyze", "persona", "-w", str(root), "--format", "json")
    assert code == 0 and json.loads(out)["persona"] == []


def test_contacts_of_an_unknown_account_is_a_clear_error(demo_workspace: DemoWorkspaces) -> None:
    code, out = icp("contacts", "nobody.example", "-w", str(demo_workspace(800, 5).root))
    assert code != 0
    assert "no account 'nobody.example' in the workspace" in out
    assert "Traceback" not in out


def test_contacts_of_an_account_without_contacts_says_so(demo_workspace: DemoWorkspaces) -> None:
    demo = demo_workspace(800, 5)
    con = duckdb.connect(str(demo.root / "workspace.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT account_key FROM accounts ORDER BY 1 LIMIT 1").fetchone()
    finally:
        con.close()
    assert row is not None
    code, out = icp("contacts", str(row[0]), "-w", str(demo.root))
    assert code == 0, out
    assert out.startswith(f"No contacts for {row[0]}")
    code, out = icp("contacts", str(row[0]), "-w", str(demo.root), "--format", "json")
    assert code == 0 and json.loads(out)["rows"] == []
