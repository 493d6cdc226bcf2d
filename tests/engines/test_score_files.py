"""``icp score`` on files: a file in the input layout streams through the compiled SELECT
(DuckDB, or Spark), output is written whole or not at all, and the SQL for the warehouses
is checked in as golden files."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from edge_cases import ACCOUNT_SCHEMA, Case, assert_same_rows
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.config import save_settings
from icpkit.engines import layout
from icpkit.engines.reference import score_all
from icpkit.engines.sql import Tables, compile_scorecard
from icpkit.icp.model import dump_icp
from icpkit.workspace import Workspace

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def edge_workspace(tmp_path: Path, edge_case: Case) -> tuple[Workspace, Path]:
    """A workspace holding the edge-case ICP and signals, and the accounts as Parquet."""
    ws = Workspace.init(tmp_path / "ws")
    ws.settings.scoring = edge_case.settings.scoring
    ws.settings.icp = dump_icp(edge_case.icp)
    save_settings(ws.settings, ws.config_path)
    with ws.connect() as con:
        for i, s in enumerate(edge_case.signals):
            con.execute(
                "INSERT INTO signals (signal_key, account_key, signal_type, detail, observed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [f"s{i}", s["account_key"], s["signal_type"], s["detail"], s["observed_at"]],
            )
        for i, c in enumerate(edge_case.contacts):
            con.execute(
                "INSERT INTO contacts (contact_key, system, account_key, seniority, department, "
                "job_title, created_at) VALUES (?, 'test', ?, ?, ?, ?, ?)",
                [
                    f"c{i}",
                    c["account_key"],
                    c["seniority"],
                    c["department"],
                    c["job_title"],
                    c["created_at"],
                ],
            )
    table = pa.Table.from_pylist(edge_case.accounts, schema=ACCOUNT_SCHEMA)
    table = table.append_column("crm_id", pa.array([f"id-{i}" for i in range(table.num_rows)]))
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path)
    return Workspace.open(ws.root), path


def _expected(case: Case) -> list[dict[str, Any]]:
    return score_all(
        case.icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of
    )


def test_a_file_in_the_input_layout_scores_like_the_reference(edge_workspace, edge_case) -> None:
    ws, path = edge_workspace
    scored = ws.score_file(path, as_of=edge_case.as_of)
    assert scored.report is None  # read as it stands, no ingestion
    assert_same_rows(_expected(edge_case), scored.rows(), "duckdb file")
    assert [r["crm_id"] for r in scored.rows()][:2] == ["id-0", "id-1"]  # passed through


@pytest.mark.slow
def test_streamed_outputs_hold_the_same_rows(edge_workspace, edge_case, tmp_path: Path) -> None:
    ws, path = edge_workspace
    expected = _expected(edge_case)
    for suffix in (".parquet", ".csv"):
        out = tmp_path / f"scored{suffix}"
        result = ws.score_file(path, as_of=edge_case.as_of, out=out)
        assert result.total == len(expected) and sum(result.tiers.values()) == len(expected)
        read = "read_parquet" if suffix == ".parquet" else "read_csv"
        cur = duckdb.connect().execute(f"SELECT * FROM {read}('{out}')")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for row in rows:
            row["top_reasons"] = row["top_reasons"] or ""
            row["negative_reasons"] = row["negative_reasons"] or ""
        assert_same_rows(expected, rows, f"streamed {suffix}")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scored")]


@pytest.mark.slow
def test_an_interrupted_write_leaves_the_previous_output_untouched(
    edge_workspace, edge_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, path = edge_workspace
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"yesterday's scores")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ws.score_file(path, as_of=edge_case.as_of, out=out)
    assert out.read_bytes() == b"yesterday's scores"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".scored")] == []


@pytest.mark.slow
def test_spark_engine_scores_the_file_like_duckdb(
    edge_workspace, edge_case, spark, tmp_path
) -> None:
    ws, path = edge_workspace
    out = tmp_path / "spark.parquet"
    result = CliRunner().invoke(
        app,
        [
            "score",
            str(path),
            "--engine",
            "spark",
            "-o",
            str(out),
            "-w",
            str(ws.root),
            "--as-of",
            str(edge_case.as_of),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [r.asDict() for r in spark.read.parquet(str(out)).collect()]
    for row in rows:
        row["top_reasons"] = row["top_reasons"] or ""
        row["negative_reasons"] = row["negative_reasons"] or ""
    assert rows and {"crm_id", "fit", "top_reasons"} <= set(rows[0])
    duck = ws.score_file(path, as_of=edge_case.as_of).rows()
    assert_same_rows(rows, duck, "spark file vs duckdb")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_warehouse_sql_matches_its_golden_file_and_parses_back(edge_case, dialect: str) -> None:
    sql = compile_scorecard(
        edge_case.icp,
        edge_case.settings,
        dialect=dialect,
        as_of=edge_case.as_of,
        tables=Tables("crm.accounts", "crm.signals", "crm.contacts"),
    )
    golden = GOLDEN / f"edge_case.{dialect}.sql"
    if os.environ.get("ICPKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(sql + "\n", encoding="utf-8")
    assert sql + "\n" == golden.read_text(encoding="utf-8"), "rerun with ICPKIT_UPDATE_GOLDEN=1"
    assert sqlglot.parse_one(sql, read=dialect).sql(dialect=dialect)


@pytest.mark.slow
def test_icp_sql_prints_the_select_for_a_dialect(edge_workspace) -> None:
    ws, _ = edge_workspace
    result = CliRunner().invoke(
        app, ["sql", "--dialect", "spark", "--table", "prod.accounts", "-w", str(ws.root)]
    )
    assert result.exit_code == 0, result.output
    assert "prod.accounts" in result.output and "CURRENT_DATE" in result.output
    assert sqlglot.parse_one(result.output, read="spark") is not None
    bad = CliRunner().invoke(app, ["sql", "--dialect", "oracle", "-w", str(ws.root)])
    assert bad.exit_code == 1 and "one of" in bad.output


@pytest.mark.slow
def test_a_csv_in_the_input_layout_reads_tools_joined_by_semicolons(
    edge_workspace, edge_case, tmp_path: Path
) -> None:
    ws, _ = edge_workspace
    path = tmp_path / "accounts.csv"
    accounts = [
        {**a, "technologies": a["technologies"] or None} for a in edge_case.accounts
    ]  # an empty cell cannot tell "no tools" from "unknown": both read as unknown
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(accounts[0]))
        writer.writeheader()
        for a in accounts:
            tools = a["technologies"]
            writer.writerow({**a, "technologies": " ; ".join(tools) if tools else ""})
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    rows = ws.score_file(path, as_of=edge_case.as_of).rows()
    assert_same_rows(expected, rows, "csv file")
    assert {r["customer"] for r in rows} == {False}  # never NULL


@pytest.mark.slow
def test_unreadable_values_in_the_input_layout_are_reported_not_dropped(
    edge_workspace, edge_case, tmp_path: Path
) -> None:
    ws, _ = edge_workspace
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_key,employees,industry\nacme.io,120,Software\nbeta.io,lots,Software\n"
        "gamma.io,many,Retail Trade\n",
        encoding="utf-8",
    )
    scored = ws.score_file(path, as_of=edge_case.as_of)
    assert len(scored.rows()) == 3  # every row is scored; the bad counts are unknown
    assert scored.problems == [
        "accounts.csv, line 3, column 'employees', value 'lots': not an employee count: "
        "'lots'; 2 such values read as unknown (also 'many')"
    ]
    result = CliRunner().invoke(app, ["score", str(path), "-w", str(ws.root)])
    assert result.exit_code == 0 and "line 3, column 'employees'" in result.output
    missing = CliRunner().invoke(app, ["score", str(tmp_path), "-w", str(ws.root)])
    assert missing.exit_code == 1 and "not a file" in missing.output


def _input_layout_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.slow
def test_input_layout_values_not_in_canonical_form_pass_the_ingest_normalizers(
    edge_workspace, edge_case, tmp_path: Path
) -> None:
    ws, _ = edge_workspace
    canonical = [
        {"account_key": "a.io", "employees": "120", "revenue": "36900000", "country": "US",
         "industry": "Software"},
        {"account_key": "b.io", "employees": "126", "revenue": "", "country": "US",
         "industry": "Software"},
        {"account_key": "c.io", "employees": "1200", "revenue": "5000000", "country": "DE",
         "industry": "Software"},
    ]  # fmt: skip
    written = [
        {**canonical[0], "revenue": "36.9 Million", "country": "USA"},
        {**canonical[1], "employees": "51-200", "country": "United States"},
        {**canonical[2], "employees": "1,200", "revenue": "$5M", "country": "Deutschland",
         "industry": "Computer Software"},
    ]  # fmt: skip
    _input_layout_csv(tmp_path / "canonical.csv", canonical)
    _input_layout_csv(tmp_path / "written.csv", written)
    expected = ws.score_file(tmp_path / "canonical.csv", as_of=edge_case.as_of)
    scored = ws.score_file(tmp_path / "written.csv", as_of=edge_case.as_of)
    assert scored.problems == expected.problems == []
    strip = ("line",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in scored.rows()] == [
        {k: v for k, v in r.items() if k not in strip} for r in expected.rows()
    ]


@pytest.mark.slow
def test_an_input_layout_csv_in_cp1252_is_read_not_refused(
    edge_workspace, edge_case, tmp_path: Path
) -> None:
    ws, _ = edge_workspace
    rows = [
        {"account_key": "muller.de", "name": "Müller Söhne", "employees": "120",
         "country": "Österreich"},
        {"account_key": "cafe.fr", "name": "Café Crème", "employees": "lots", "country": "FR"},
    ]  # fmt: skip
    path = tmp_path / "accounts.csv"
    _input_layout_csv(path, rows, encoding="cp1252")
    canonical = tmp_path / "canonical.csv"
    _input_layout_csv(canonical, [{**rows[0], "country": "AT"}, rows[1]])
    scored = ws.score_file(path, as_of=edge_case.as_of)
    assert scored.rows() == ws.score_file(canonical, as_of=edge_case.as_of).rows()
    by_key = {r["account_key"]: r for r in scored.rows()}
    assert by_key["muller.de"]["name"] == "Müller Söhne"
    assert "Outside the market served" in by_key["muller.de"]["negative_reasons"]
    assert scored.problems == [
        "accounts.csv, line 3, column 'employees', value 'lots': not an employee count: "
        "'lots'; 1 such values read as unknown"
    ]


@pytest.mark.slow
def test_an_input_layout_csv_in_utf16_or_with_its_key_column_last_is_still_the_input_layout(
    edge_workspace, edge_case, tmp_path: Path
) -> None:
    # A raw export is told by its header never naming account_key; a UTF-16 file spells it
    # with NUL bytes between the letters, and a wide file may name it last.
    ws, _ = edge_workspace
    rows = [{"name": "Acme", "employees": "120", "account_key": "acme.com"}]
    wide = [{**{f"custom {i}": "" for i in range(3000)}, **rows[0]}]
    canonical = tmp_path / "canonical.csv"
    _input_layout_csv(canonical, rows)
    expected = ws.score_file(canonical, as_of=edge_case.as_of).rows()
    for name, written, encoding in (("utf16.csv", rows, "utf-16"), ("wide.csv", wide, "utf-8")):
        _input_layout_csv(tmp_path / name, written, encoding=encoding)
        scored = ws.score_file(tmp_path / name, as_of=edge_case.as_of)
        assert [r["account_key"] for r in scored.rows()] == ["acme.com"], name
        assert scored.rows()[0]["score"] == expected[0]["score"], name


@pytest.mark.slow
def test_many_distinct_values_to_normalize_are_looked_up_like_a_few(
    edge_workspace, edge_case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = edge_workspace
    revenues = [1_000_000 + 137_731 * i for i in range(300)]
    canonical = [{"account_key": f"c{i}.io", "revenue": str(r)} for i, r in enumerate(revenues)]
    written = [{**row, "revenue": f"${r:,}"} for row, r in zip(canonical, revenues, strict=True)]
    _input_layout_csv(tmp_path / "canonical.csv", canonical)
    _input_layout_csv(tmp_path / "written.csv", written)
    expected = ws.score_file(tmp_path / "canonical.csv", as_of=edge_case.as_of).rows()
    assert len({r["score"] for r in expected}) > 1  # the revenue rule tells some apart
    assert ws.score_file(tmp_path / "written.csv", as_of=edge_case.as_of).rows() == expected
    monkeypatch.setattr(layout, "INLINE_FIXES", 1_000)  # the same, written as one CASE
    assert ws.score_file(tmp_path / "written.csv", as_of=edge_case.as_of).rows() == expected


def test_a_research_answer_is_read_from_its_answer_column_in_a_file_or_warehouse() -> None:
    import datetime as dt

    from icpkit.engines.layout import extra_columns, extra_sources
    from icpkit.icp.model import ICP, Criterion

    icp = ICP(
        derived_at=dt.datetime(2025, 3, 1),
        data_fingerprint="answers",
        fit=[
            Criterion(
                id="crm", attribute="answer:crm", values=["HubSpot"], weight=0.5, source="derived"
            ),
            Criterion(
                id="tz", attribute="extra:Time Zone", values=["CET"], weight=0.2, source="derived"
            ),
        ],
    )
    assert extra_columns(icp) == ["Time Zone", "answer_crm"]
    # In the store both live in the accounts' extra JSON, under these keys.
    assert extra_sources(icp) == {"Time Zone": "Time Zone", "answer_crm": "answer:crm"}
