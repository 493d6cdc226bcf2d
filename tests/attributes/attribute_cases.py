"""The one loader of tests/fixtures/attributes/<key>.yaml, and the places an attribute's
SQL is run for one account on one day: as scoring runs it over the store, over a warehouse
table, and as the analysis frame runs it over a closed deal."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from icpkit.analysis.frame import prepare
from icpkit.attributes import FRAME, Context, Definition
from icpkit.config import AnalysisSettings
from icpkit.store.db import identifier, literal
from icpkit.store.schema import TABLES

FOLDER = Path(__file__).parents[1] / "fixtures" / "attributes"
DEFAULT_DAY = dt.date(2025, 6, 1)
# The account fields a fixture may set (the store's canonical columns) besides ``extra``.
FIELDS = {
    "employees": "BIGINT",
    "revenue": "DOUBLE",
    "industry": "VARCHAR",
    "country": "VARCHAR",
    "funding_stage": "VARCHAR",
    "founded_year": "INTEGER",
    "technologies": "VARCHAR[]",
    "total_funding": "DOUBLE",
}
CASE_KEYS = {"attribute", "day", "account", "signals", "settings", "expected", "number"}


@dataclass(frozen=True)
class AttributeCase:
    """One line of a fixture file: inputs and what SQL and Python must both give."""

    where: str  # 'employees.yaml:12'
    attribute: str
    day: dt.date | None
    account: dict[str, Any]
    extra: dict[str, Any]
    signals: list[dict[str, Any]]
    settings: AnalysisSettings
    expected: str | None  # the value label; None: the case checks only the number
    checks_number: bool = False
    number: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def flat(self) -> dict[str, Any]:
        """The account as the Python reference reads it: unmapped columns by their name."""
        return {**{k: None for k in FIELDS}, **self.account, **self.extra}


def load(key: str) -> list[AttributeCase]:
    """The cases of tests/fixtures/attributes/<key>.yaml, each named by its file and line."""
    path = FOLDER / f"{key}.yaml"
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise ValueError(f"{path}: expected a mapping with 'cases'")
    build = yaml.SafeLoader("")
    nodes = dict((k.value, v) for k, v in root.value)
    if not isinstance(nodes.get("cases"), yaml.SequenceNode):
        raise ValueError(f"{path}: 'cases' must be a list")
    cases = []
    for node in nodes["cases"].value:
        where = f"{path.name}:{node.start_mark.line + 1}"
        row = build.construct_object(node, deep=True)
        unknown = set(row) - CASE_KEYS
        if unknown or "attribute" not in row or not {"expected", "number"} & set(row):
            raise ValueError(
                f"{where}: a case has 'attribute' and 'expected' and/or 'number' "
                f"(keys allowed: {', '.join(sorted(CASE_KEYS))}); got {sorted(row)}"
            )
        account = dict(row.get("account") or {})
        extra = dict(account.pop("extra", None) or {})
        if set(account) - set(FIELDS):
            raise ValueError(
                f"{where}: unknown account fields {sorted(set(account) - set(FIELDS))}"
            )
        cases.append(
            AttributeCase(
                where=where,
                attribute=str(row["attribute"]),
                day=row.get("day", DEFAULT_DAY),
                account=account,
                extra=extra,
                signals=list(row.get("signals") or []),
                settings=AnalysisSettings(**(row.get("settings") or {})),
                expected=row.get("expected"),
                checks_number="number" in row,
                number=None if row.get("number") is None else float(row["number"]),
                raw=row,
            )
        )
    return cases


def keys() -> list[str]:
    """The definitions that have a fixture file."""
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def _day_sql(day: dt.date | None) -> str:
    return "CAST(NULL AS DATE)" if day is None else f"DATE '{day.isoformat()}'"


def _value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "[" + ", ".join(literal(str(v)) for v in value) + "]::VARCHAR[]"
    if isinstance(value, str):
        return literal(value)
    return repr(value)


def store(case: AttributeCase) -> duckdb.DuckDBPyConnection:
    """An in-memory store holding the case's account, one closed deal of it created on the
    case's day, and its signals."""
    con = duckdb.connect()
    for ddl in TABLES.values():
        con.execute(ddl)
    columns = ["account_key", "origin", "extra", *case.account]
    values = [
        "'acct.io'",
        "'test'",
        literal(json.dumps(case.extra)) + "::JSON" if case.extra else "NULL",
        *(_value(v) for v in case.account.values()),
    ]
    con.execute(f"INSERT INTO accounts ({', '.join(columns)}) VALUES ({', '.join(values)})")
    created = "NULL" if case.day is None else f"TIMESTAMP '{case.day.isoformat()} 10:00:00'"
    con.execute(
        f"""INSERT INTO deals (deal_key, system, account_key, outcome, created_at, closed_at,
                               is_expansion)
            VALUES ('d1', 'test', 'acct.io', 'won', {created}, {created}, false)"""
    )
    for i, s in enumerate(case.signals):
        con.execute(
            "INSERT INTO signals (signal_key, account_key, signal_type, detail, observed_at) "
            "VALUES (?, 'acct.io', ?, ?, ?)",
            [f"s{i}", s["signal_type"], s.get("detail"), s["observed_at"]],
        )
    return con


def scoring_value(definition: Definition, case: AttributeCase) -> str | None:
    """The SQL value as scoring reads it from the store (unmapped columns in JSON)."""
    sql = definition.sql(case.attribute, case.settings, Context(as_of=_day_sql(case.day)))
    if sql is None:
        return None
    return str(store(case).execute(f"SELECT {sql} FROM accounts a").fetchall()[0][0])


def _column(field: str) -> str:
    """A field of the accounts' JSON as a warehouse column: 'answer:crm' -> 'answer_crm'."""
    return "answer_" + field.removeprefix("answer:") if field.startswith("answer:") else field


def warehouse_value(definition: Definition, case: AttributeCase) -> str | None:
    """The SQL value as the compiled scorecard reads it from a table in the input layout
    holding only the definition's declared inputs (unmapped columns as columns of their own)."""
    ctx = Context(as_of=_day_sql(case.day), extra_columns=True)
    sql = definition.sql(case.attribute, case.settings, ctx)
    if sql is None:
        return None
    # Only the fields the definition declares as its inputs: reading any other fails here.
    row = {k: case.account.get(k) for k in definition.inputs}
    # The table has a column for every unmapped field the ICP reads, NULL where unknown.
    # Research answers ('answer:<key>' in the store) are columns 'answer_<key>' there.
    extra = {_column(k): v for k, v in case.extra.items()}
    if case.attribute.startswith("extra:"):
        extra.setdefault(case.attribute.removeprefix("extra:"), None)
    if case.attribute.startswith("answer:"):
        extra.setdefault(_column(case.attribute), None)
    names = [identifier(k) for k in row] + [identifier(k) for k in extra]
    types = [definition.inputs[k] for k in row] + ["VARCHAR"] * len(extra)
    values = [_value(v) for v in row.values()] + [_value(v) for v in extra.values()]
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE accounts ("
        + ", ".join(f"{n} {t}" for n, t in zip(names, types, strict=True))
        + ")"
    )
    con.execute(f"INSERT INTO accounts VALUES ({', '.join(values)})")
    return str(con.execute(f"SELECT {sql} FROM accounts a").fetchall()[0][0])


def frame_value(definition: Definition, case: AttributeCase) -> str | None:
    """The SQL value as the analysis frame reads it for a deal created on the case's day."""
    sql = definition.sql(case.attribute, case.settings, FRAME)
    if sql is None:
        return None
    con = store(case)
    prepare(con)
    join = definition.join(case.attribute)
    rows = con.execute(
        f"SELECT {sql} FROM closed c JOIN accounts a USING (account_key) {join}"
    ).fetchall()
    return str(rows[0][0])


def number_value(definition: Definition, case: AttributeCase) -> float | None:
    """The SQL number a min/max rule compares, read from the store."""
    sql = definition.number_sql(case.attribute, Context(as_of=_day_sql(case.day)))
    assert sql is not None, case.where
    value = store(case).execute(f"SELECT {sql} FROM accounts a").fetchall()[0][0]
    return None if value is None else float(value)
