"""The scorecard compiled into Python scores every edge case exactly as the compiled SELECT
on DuckDB does (every field, the win probability to the last digit) and as the Python
reference does, and words enriched reasons as the SQL does."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from edge_cases import Case, assert_same_rows, no_rules_icp, unknown_bins_icp
from test_sql_duckdb import load_duckdb, run

from icpkit.config import Settings
from icpkit.engines.compiled import CompiledScorecard, rounded, sourced
from icpkit.engines.reference import score_all
from icpkit.engines.sql import compile_scorecard
from icpkit.enrich.evidence import _suffixed


def compiled_rows(case: Case, day: dt.date) -> list[dict[str, Any]]:
    """Every account of ``case`` scored by the compiled Python scorecard as of ``day``."""
    card = CompiledScorecard(case.icp, case.settings, day)
    signals: dict[str, list[Any]] = {}
    for s in case.signals:
        signals.setdefault(s["account_key"], []).append(
            (s["signal_type"], s["detail"], s["observed_at"])
        )
    contacts: dict[str, list[Any]] = {}
    for c in case.contacts:
        contacts.setdefault(c["account_key"], []).append(
            (c["seniority"], c["department"], c["job_title"], c["created_at"])
        )
    return [
        card.score(a, signals.get(a["account_key"], []), contacts.get(a["account_key"], []))
        for a in case.accounts
    ]


def sql_rows(case: Case, day: dt.date) -> list[dict[str, Any]]:
    sql = compile_scorecard(case.icp, case.settings, as_of=day)
    rows = {r["account_key"]: r for r in run(load_duckdb(case), sql)}
    return [rows[a["account_key"]] for a in case.accounts]


def cases(edge_case: Case) -> dict[str, Case]:
    return {
        "edge": edge_case,
        "unknown bins": Case(
            unknown_bins_icp(),
            edge_case.settings,
            edge_case.accounts,
            edge_case.signals,
            edge_case.contacts,
        ),
        "no rules": Case(
            no_rules_icp(), Settings(), edge_case.accounts, edge_case.signals, edge_case.contacts
        ),
    }


@pytest.mark.parametrize("name", ["edge", "unknown bins", "no rules"])
def test_compiled_scorecard_gives_the_select_output_for_every_edge_case(
    edge_case: Case, name: str
) -> None:
    case = cases(edge_case)[name]
    # The scoring day itself, and days that put signals outside or at their windows' edges.
    for day in (case.as_of, case.as_of - dt.timedelta(days=61), case.as_of + dt.timedelta(days=30)):
        expected = sql_rows(case, day)
        actual = compiled_rows(case, day)
        for want, got in zip(expected, actual, strict=True):
            assert got == want, (name, day, want["account_key"])


def test_compiled_scorecard_scores_every_edge_case_like_the_reference(edge_case: Case) -> None:
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    actual = compiled_rows(edge_case, edge_case.as_of)
    assert_same_rows(expected, actual, "compiled")
    # Not trivial: every route and tier, decaying intent, the persona and the boundary occur.
    assert {r["route"] for r in actual} >= {"never", "disqualify", "work_now", "nurture"}
    assert {r["tier"] for r in actual} == {"A", "B", "C", "D"}
    assert any("days ago" in r["top_reasons"] for r in actual)
    assert any("buyer persona" in r["top_reasons"] for r in actual)
    assert any("Outside the market" in r["negative_reasons"] for r in actual)


def test_an_enriched_reason_names_its_source_before_its_points() -> None:
    reasons = "Uses HubSpot (+8); Industry Software (+9)"
    evidence = [("Uses HubSpot", "seen on homepage, 2026-11-30")]
    assert sourced(reasons, evidence) == (
        "Uses HubSpot (seen on homepage, 2026-11-30) (+8); Industry Software (+9)"
    )
    assert sourced("", evidence) == ""
    assert sourced(reasons, []) == reasons


SOURCED = [
    ("Uses HubSpot (+8); Industry Software (+9)", [("Uses HubSpot", "homepage, 2026-11-30")]),
    ("Uses HubSpot; Uses HubSpotter (+2)", [("Uses HubSpot", "a"), ("Uses HubSpot", "b")]),
    ("Job posting SDR 12 days ago (+10)", [("Job posting SDR 12 days ago", "jobs page, 2026")]),
    ("Industry Retail Trade: excluded", [("Uses Slack", "x")]),
    ("", [("Uses Slack", "x")]),
    ("Uses Slack (+3)", []),
    ("Uses Slack (+3)", None),
]


def test_enriched_reasons_are_worded_as_the_sql_words_them() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE s (top_reasons VARCHAR)")
    con.execute("CREATE TABLE a (i INTEGER, entries STRUCT(k VARCHAR, v VARCHAR)[])")
    for i, (reasons, entries) in enumerate(SOURCED):
        con.execute("INSERT INTO s VALUES (?)", [reasons])
        rows = None if entries is None else [{"k": k, "v": v} for k, v in entries]
        con.execute("INSERT INTO a VALUES (?, ?)", [i, rows])
    sql = (
        "SELECT " + _suffixed("top_reasons", "a.entries", "s") + " FROM "
        "(SELECT top_reasons, row_number() OVER () - 1 AS i FROM s) s JOIN a USING (i) "
        "ORDER BY i"
    )
    expected = [r[0] for r in con.execute(sql).fetchall()]
    actual = [sourced(reasons, entries or []) for reasons, entries in SOURCED]
    assert actual == expected
    assert actual[1] == "Uses HubSpot (a); Uses HubSpotter (+2)"


def test_probabilities_are_rounded_as_sql_rounds_them_ties_included() -> None:
    rng = random.Random(7)
    # Exact ties at the fourth decimal (k/32), values near ties, and random ones.
    values = [k / 32 for k in range(-32, 33)] + [k / 20000 for k in range(0, 20001, 7)]
    values += [rng.random() for _ in range(20000)]
    con = duckdb.connect()
    con.register("v", pa.table({"x": pa.array(values, pa.float64())}))
    expected = [r[0] for r in con.execute("SELECT round(x, 4) FROM v").fetchall()]
    assert [rounded(x, 4) for x in values] == expected
    assert rounded(0.03125, 4) != round(0.03125, 4)  # where Python's own round differs
