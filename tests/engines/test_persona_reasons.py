"""The buyer persona's reason names the role that matched ("Has a VP in Sales (buyer
persona)"), alike in the compiled SELECT, the Python reference, the compiled Python scorer
and the numpy scorer the fitting uses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import sqlglot
from edge_cases import Case, assert_same_rows
from test_compiled import compiled_rows
from test_sql_duckdb import load_duckdb, numpy_and_sql_scores, run

from icpkit.config import PersonaRoleSetting, PersonaSettings, ScoringSettings, Settings
from icpkit.engines.reference import score_all
from icpkit.engines.score import persona_text
from icpkit.engines.sql import DIALECTS, Tables, compile_scorecard

ROLES = [("VP", "Sales"), ("Manager", "Marketing"), ("Director", "Sales")]
"""The persona, strongest role first."""
OTHER_ROLES = [("Manager", "Sales"), ("Individual contributor", "Engineering")]


def roles_case(edge_case: Case) -> Case:
    """The edge case's accounts and signals, scored with a persona of three roles; accounts
    hold none, one, two or three of its roles (some only after the scoring day), and roles
    outside it, written in any case."""
    settings = Settings()
    settings.scoring = ScoringSettings(
        persona=PersonaSettings(
            roles=[PersonaRoleSetting(seniority=s, department=d) for s, d in ROLES]
        )
    )
    rng = np.random.default_rng(5)
    contacts: list[dict[str, Any]] = []
    for account in edge_case.accounts:
        for _ in range(int(rng.integers(0, 4))):
            s, d = [*ROLES, *OTHER_ROLES][int(rng.integers(0, 5))]
            if rng.random() < 0.3:
                s, d = s.lower(), d.upper()
            later = rng.random() < 0.15
            created = edge_case.as_of + dt.timedelta(days=int(rng.integers(-400, 0)) + 500 * later)
            contacts.append(
                {
                    "account_key": account["account_key"],
                    "seniority": s,
                    "department": d,
                    "job_title": f"{s} of {d}",
                    "created_at": None
                    if rng.random() < 0.1
                    else dt.datetime.combine(created, dt.time(9, 0)),
                }
            )
    return Case(edge_case.icp, settings, edge_case.accounts, edge_case.signals, contacts)


def expected_persona_reason(case: Case, key: str) -> str | None:
    """The persona's words for account ``key``, from its contacts known by the scoring day:
    its strongest persona role and how many more it holds; None when it holds none."""
    held = set()
    for c in case.contacts:
        created = c["created_at"]
        if c["account_key"] != key or (created is not None and created.date() > case.as_of):
            continue
        held.add((c["seniority"].lower(), c["department"].lower()))
    mine = [(s, d) for s, d in ROLES if (s.lower(), d.lower()) in held]
    if not mine:
        return None
    s, d = mine[0]
    more = len(mine) - 1
    article = "an" if s[0] in "AEIOU" else "a"
    tail = "" if not more else f" and {more} more persona role" + ("s" if more > 1 else "")
    return f"Has {article} {s} in {d}{tail} (buyer persona)"


def persona_pieces(reasons: str) -> list[str]:
    return [r for r in reasons.split("; ") if "buyer persona" in r]


def test_the_persona_reason_names_the_role_and_counts_the_others() -> None:
    assert persona_text([("VP", "Sales")]) == "Has a VP in Sales (buyer persona)"
    assert persona_text([("Individual contributor", "Engineering")]) == (
        "Has an Individual contributor in Engineering (buyer persona)"
    )
    assert persona_text([("VP", "Sales"), ("Manager", "Operations")]) == (
        "Has a VP in Sales and 1 more persona role (buyer persona)"
    )
    # A persona of seniorities, departments or titles names no role.
    assert persona_text([]) == "Has a contact matching the buyer persona"


def test_sql_names_the_strongest_persona_role_each_account_holds(edge_case: Case) -> None:
    case = roles_case(edge_case)
    rows = run(load_duckdb(case), compile_scorecard(case.icp, case.settings, as_of=case.as_of))
    told = {r["account_key"]: persona_pieces(r["top_reasons"]) for r in rows}
    seen = set()
    for account in case.accounts:
        want = expected_persona_reason(case, account["account_key"])
        got = told[account["account_key"]]
        if want is None:
            assert got == [], account["account_key"]
        else:
            assert len(got) == 1 and got[0].startswith(want + " (+"), (want, got)
            seen.add(want.split(" (")[0].split(" and ")[-1])
    # Not trivial: one, two and three roles held, and every role named first.
    assert {"1 more persona role", "2 more persona roles"} <= seen
    assert {f"Has a {s} in {d}" for s, d in ROLES} <= {
        p.split(" and ")[0].split(" (")[0] for ps in told.values() for p in ps
    }


def test_the_reference_and_the_compiled_scorer_word_it_as_the_sql(edge_case: Case) -> None:
    case = roles_case(edge_case)
    expected = score_all(
        case.icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of
    )
    sql = run(load_duckdb(case), compile_scorecard(case.icp, case.settings, as_of=case.as_of))
    assert_same_rows(expected, sql, "duckdb")
    assert_same_rows(expected, compiled_rows(case, case.as_of), "compiled")
    assert any(persona_pieces(r["top_reasons"]) for r in expected)


def test_the_numpy_scorer_words_it_as_the_sql(edge_case: Case) -> None:
    case = roles_case(edge_case)
    scores, by_sql = numpy_and_sql_scores(case)
    named = 0
    for i, row in enumerate(by_sql):
        mine = [f"{r.text} ({r.points:+d})" for r in scores.reasons(i) if r.rule_id == "persona"]
        assert mine == persona_pieces(row["top_reasons"]), row["account_key"]
        named += bool(mine)
    assert named > 20


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_named_persona_reason_compiles_in_every_dialect(edge_case: Case, dialect: str) -> None:
    case = roles_case(edge_case)
    sql = compile_scorecard(
        case.icp,
        case.settings,
        dialect=dialect,
        as_of=case.as_of,
        tables=Tables("crm.accounts", "crm.signals", "crm.contacts"),
    )
    assert sqlglot.parse_one(sql, read=dialect).find(sqlglot.exp.Select) is not None
    assert "Has a VP in Sales and 2 more persona roles (buyer persona)" in sql
