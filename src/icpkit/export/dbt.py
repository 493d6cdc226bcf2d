"""``icp export dbt``: the compiled scorecard as a dbt model. ``models/icp_scores.sql`` is the
one SELECT of ``icp sql`` in the chosen dialect, reading ``{{ ref(...) }}`` (or
``{{ source(...) }}``) in place of table names; ``models/schema.yml`` describes every output
column and tests the keys, the scores, the tiers and the routes.

With named ICPs (``icps:`` in icp.yaml) the one model is that of ``icp sql --all-icps``: one
row per account with the main ICP's columns, ``best_icp`` and each named ICP's columns, as
``icp score`` writes them. A named ICP alone is the model ``icp_scores_NAME``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from icpkit.config import Settings
from icpkit.engines.multi import BEST, PER_ICP, compile_multi
from icpkit.engines.sql import OUTPUT_COLUMNS, Tables, compile_scorecard
from icpkit.export.stamp import ExportError, ExportResult, Stamp
from icpkit.icp.model import ICP
from icpkit.output.files import write_atomic
from icpkit.vocabulary import DIALECTS, DIMENSIONS, ROUTES, TIERS

MODEL = "icp_scores"
INPUTS = ("accounts", "signals", "contacts")
# Names no SQL dialect quotes, replaced by the dbt references after the SQL is generated.
PLACEHOLDER = "icpkit__input__{}"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DESCRIPTIONS: dict[str, str] = {
    "account_key": "The account's key: its registrable domain, else its normalized name.",
    "fit": "Fit score (0-100): the fit dimensions' points as a share of their caps.",
    "intent": "Intent score (0-100): the behavioral points as a share of their cap.",
    "score": "Combined score (0-100): the sum of the four sub-scores.",
    "firmographic": "Firmographic sub-score: its base plus the points of its rules.",
    "technographic": "Technographic sub-score: its base plus the points of its rules.",
    "behavioral": "Behavioral (intent) sub-score: decayed points of fresh signals.",
    "deal_potential": "Deal potential sub-score (the buyer persona).",
    "tier": "Tier A-D, cut from the combined score at the ICP's learned thresholds.",
    "route": "What to do: work_now, nurture, automated_nurture, disqualify or never.",
    "win_probability": "The scoring model's probability of winning a deal, 0-1.",
    "top_reasons": "The rules that brought points, strongest first ('Uses HubSpot (+9)').",
    "negative_reasons": "Rules that took points, exclusions and boundary conditions failed.",
}
NOT_NULL = ("account_key", "fit", "intent", "score", *DIMENSIONS, "tier", "route")
PER_ICP_DESCRIPTIONS = {
    "fit": "Fit score (0-100) under the named ICP {name}.",
    "tier": "Tier A-D under the named ICP {name}.",
    "route": "What to do, by the named ICP {name}.",
    "win_probability": "The win probability, 0-1, under the named ICP {name}.",
}
BEST_DESCRIPTION = (
    "The named ICP the account fits best: the one whose win probability stands furthest "
    "above its own base rate; empty when every named ICP excludes the account or has it "
    "outside its boundary."
)


def reference(table: str, source: str | None) -> str:
    """The dbt reference of input ``table``: ``{{ ref('accounts') }}``, or with a source
    ``{{ source('crm', 'accounts') }}``."""
    if source is None:
        return "{{ ref('" + table + "') }}"
    return "{{ source('" + source + "', '" + table + "') }}"


def dbt_model_sql(
    icp: ICP,
    settings: Settings,
    *,
    dialect: str,
    names: dict[str, str],
    source: str | None = None,
    as_of: dt.date | None = None,
    named: Sequence[tuple[str, ICP]] = (),
) -> tuple[str, list[str]]:
    """The model's SELECT with dbt references, and the inputs it reads (in ``INPUTS``);
    with ``named`` ICPs, that of every ICP at once (icpkit.engines.multi)."""
    if dialect not in DIALECTS:
        raise ExportError(f"unknown SQL dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    tables = Tables(*(PLACEHOLDER.format(t) for t in INPUTS))
    if named:
        sql = compile_multi(icp, named, settings, dialect=dialect, tables=tables, as_of=as_of)
    else:
        sql = compile_scorecard(icp, settings, dialect=dialect, tables=tables, as_of=as_of)
    read = [t for t in INPUTS if PLACEHOLDER.format(t) in sql]
    for table in read:
        sql = sql.replace(PLACEHOLDER.format(table), reference(names[table], source))
    return sql, read


def export_dbt(
    icp: ICP,
    settings: Settings,
    out: Path,
    *,
    dialect: str = "duckdb",
    accounts: str = "accounts",
    signals: str = "signals",
    contacts: str = "contacts",
    source: str | None = None,
    as_of: dt.date | None = None,
    named: Sequence[tuple[str, ICP]] = (),
    name: str | None = None,
) -> ExportResult:
    """Write ``models/icp_scores.sql`` and ``models/schema.yml`` (and ``models/sources.yml``
    with a ``source``) into the dbt project folder ``out``. ``named`` ICPs join the main
    ``icp`` in the one model (best_icp and their columns); ``icp`` being the named ICP
    ``name`` instead, the model is ``icp_scores_<name>``."""
    names = {"accounts": accounts, "signals": signals, "contacts": contacts}
    for what, value in [*names.items(), ("source", source)]:
        if value is not None and not NAME.match(value):
            raise ExportError(
                f"{what} {value!r}: a dbt model or source name is letters, digits and _"
            )
    stamp = Stamp.of(icp, name=name)
    sql, read = dbt_model_sql(
        icp, settings, dialect=dialect, names=names, source=source, as_of=as_of, named=named
    )
    day = f"as of {as_of.isoformat()}" if as_of else "as of the warehouse's current date"
    what = "the ICP's scorecard"
    if named:
        what += f" with the named ICPs {', '.join(n for n, _ in named)}"
    header = (
        f"-- icpkit {stamp.words}: {what} as one SELECT ({dialect}), intent\n"
        f"-- {day}. Written by `icp export dbt`; export again when the ICP changes.\n"
        "{{ config(materialized='table') }}\n\n"
    )
    model = MODEL if name is None else f"{MODEL}_{name}"
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    files = [models / f"{model}.sql", models / "schema.yml"]
    write_atomic(files[0], header + sql + "\n")
    write_atomic(files[1], _dump(schema_yml(stamp, dialect, model=model, named=named)))
    if source is not None:
        files.append(models / "sources.yml")
        tables = [{"name": names[t]} for t in read]
        write_atomic(
            files[2], _dump({"version": 2, "sources": [{"name": source, "tables": tables}]})
        )
    notes = (
        []
        if source is not None
        else [
            f"the model reads {', '.join(names[t] for t in read)} with ref(): models of those "
            "names must exist in the project (or export with a source)"
        ]
    )
    return ExportResult("dbt", stamp, tuple(files), tuple(notes))


def schema_yml(
    stamp: Stamp,
    dialect: str,
    *,
    model: str = MODEL,
    named: Sequence[tuple[str, ICP]] = (),
) -> dict[str, Any]:
    """The model's ``schema.yml``: every output column described, the keys and scores not
    null, the account key unique, tier and route among their values; with ``named`` ICPs,
    ``best_icp`` among their names and each one's columns tested alike."""
    columns: list[dict[str, Any]] = []
    for name in OUTPUT_COLUMNS:
        tests: list[Any] = []
        if name in NOT_NULL:
            tests.append("not_null")
        if name == "account_key":
            tests.append("unique")
        if name == "tier":
            tests.append({"accepted_values": {"values": list(TIERS)}})
        if name == "route":
            tests.append({"accepted_values": {"values": list(ROUTES)}})
        column: dict[str, Any] = {"name": name, "description": DESCRIPTIONS[name]}
        if tests:
            column["tests"] = tests
        columns.append(column)
    if named:
        columns += _named_columns(named)
    meta: dict[str, Any] = {"icp_version": stamp.version}
    if stamp.name:
        meta["icp"] = stamp.name
    if named:
        meta["named_icps"] = {n: icp.version for n, icp in named}
    meta |= {"made_on": stamp.made_on.isoformat(), "generated_by": "icpkit"}
    scored = "the ICP" if not named else "the ICP and the named ICPs"
    return {
        "version": 2,
        "models": [
            {
                "name": model,
                "description": (
                    f"Accounts scored with {scored} ({stamp.words}); compiled by icpkit "
                    f"for {dialect}."
                ),
                "meta": meta,
                "columns": columns,
            }
        ],
    }


def _named_columns(named: Sequence[tuple[str, ICP]]) -> list[dict[str, Any]]:
    """``best_icp`` and each named ICP's columns, described and tested."""
    best = {"accepted_values": {"values": [n for n, _ in named]}}
    columns: list[dict[str, Any]] = [
        {"name": BEST, "description": BEST_DESCRIPTION, "tests": [best]}
    ]
    for name, _ in named:
        for kind in PER_ICP:
            column: dict[str, Any] = {
                "name": f"{kind}_{name}",
                "description": PER_ICP_DESCRIPTIONS[kind].format(name=name),
            }
            tests: list[Any] = [] if kind == "win_probability" else ["not_null"]
            if kind == "tier":
                tests.append({"accepted_values": {"values": list(TIERS)}})
            if kind == "route":
                tests.append({"accepted_values": {"values": list(ROUTES)}})
            if tests:
                column["tests"] = tests
            columns.append(column)
    return columns


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
