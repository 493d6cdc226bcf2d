"""A company universe around the demo CRM: its companies plus new ones from the same world.

A list vendor's universe is what TAM sizing and lookalike search run on. This one holds every
company of a demo CRM plus ``n_extra`` companies drawn from the generator's own distributions,
in the scorer's input layout, with the planted truth (``is_icp``, ``customer``) kept in a file
of its own so that nothing scored can peek at it::

    files = make_crm(4_000, 3, Path("demo"))
    universe = make_universe(files, 20_000, 1, Path("demo"))
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from icpkit.demo import truth as T
from icpkit.demo.generator import NAME_SPACE, DemoFiles, _names
from icpkit.demo.world import World, simulate

UNIVERSE_NAME = "universe.parquet"
TRUTH_NAME = "universe_truth.parquet"
CHUNK = 100_000
# Spawn keys of the new companies' generators, apart from the CRM's (chunk, 0|1) keys.
SPAWN = 1_000_003

SCHEMA = pa.schema(
    [
        ("account_key", pa.string()),
        ("name", pa.string()),
        ("employees", pa.int64()),
        ("revenue", pa.float64()),
        ("industry", pa.string()),
        ("country", pa.string()),
        ("funding_stage", pa.string()),
        ("founded_year", pa.int32()),
        ("technologies", pa.list_(pa.string())),
        ("total_funding", pa.float64()),
    ]
)
TRUTH_SCHEMA = pa.schema(
    [("account_key", pa.string()), ("is_icp", pa.bool_()), ("customer", pa.bool_())]
)


@dataclass(frozen=True)
class Universe:
    """Where a demo universe was written and what it holds."""

    path: Path
    truth: Path
    n_companies: int
    n_crm: int
    n_extra: int
    n_icp: int

    @property
    def icp_rate(self) -> float:
        """Share of the universe that is ICP by the planted definition: the lookalike base rate."""
        return self.n_icp / self.n_companies if self.n_companies else 0.0


def planted_icp(definition: list[dict[str, Any]], columns: dict[str, Any]) -> np.ndarray:
    """Whether each company holds every planted fit discriminator (``icp_definition``).

    ``definition`` is planted_truth.json's ``discriminators``; ``columns`` holds arrays
    ``employees``, ``industry`` and ``tech`` (a list of tools per company).
    """
    n = len(columns["employees"])
    holds = np.ones(n, dtype=bool)
    for rule in definition:
        attribute = rule["attribute"]
        if attribute == "employees":
            emp = np.asarray(columns["employees"], dtype=float)
            holds &= (emp >= rule["min"]) & (emp <= rule["max"])
        elif attribute == "tech":
            holds &= np.fromiter((rule["value"] in t for t in columns["tech"]), bool, n)
        else:
            holds &= np.asarray(columns[attribute], dtype=object) == rule["value"]
    return holds


def make_universe(files: DemoFiles, n_extra: int, seed: int, out: Path) -> Universe:
    """Write ``universe.parquet`` (the input layout, ``account_key`` = domain) and
    ``universe_truth.parquet`` (account_key, is_icp, customer) into ``out``.

    The CRM's companies come first (one row per domain), then ``n_extra`` new ones drawn in
    chunks, so memory stays bounded for millions of companies. Same arguments, same files.
    """
    if n_extra < 0:
        raise ValueError(f"n_extra must be >= 0; got {n_extra}")
    planted = json.loads(files.planted_truth.read_text(encoding="utf-8"))
    if files.n_companies + n_extra > NAME_SPACE:
        raise ValueError(
            f"n_extra too large: names run out at {NAME_SPACE - files.n_companies:,} new companies"
        )
    definition = _definition(planted)
    out.mkdir(parents=True, exist_ok=True)
    path, truth_path = out / UNIVERSE_NAME, out / TRUTH_NAME
    n_icp = 0
    with (
        pq.ParquetWriter(path, SCHEMA) as writer,
        pq.ParquetWriter(truth_path, TRUTH_SCHEMA) as truth_writer,
    ):
        crm, crm_truth = _crm_companies(files, definition)
        writer.write_table(crm)
        truth_writer.write_table(crm_truth)
        n_icp += pc.sum(crm_truth["is_icp"].cast(pa.int64())).as_py() or 0
        for k, start in enumerate(range(0, n_extra, CHUNK)):
            size = min(CHUNK, n_extra - start)
            table, truth_table = _new_companies(
                planted["seed"], seed, k, files.n_companies + start, size, definition
            )
            writer.write_table(table)
            truth_writer.write_table(truth_table)
            n_icp += pc.sum(truth_table["is_icp"].cast(pa.int64())).as_py() or 0
    return Universe(path, truth_path, crm.num_rows + n_extra, crm.num_rows, n_extra, n_icp)


def _definition(planted: dict[str, Any]) -> list[dict[str, Any]]:
    """The discriminators that ``icp_definition`` names (all must hold)."""
    named = set(planted["icp_definition"]["attributes"])
    return [d for d in planted["discriminators"] if d["attribute"] in named]


def _crm_companies(files: DemoFiles, definition: list[dict[str, Any]]) -> tuple[pa.Table, pa.Table]:
    """The CRM's companies from company_truth.csv, one per domain, with the founding year and
    money raised of their record in the companies export."""
    truth = pacsv.read_csv(
        files.company_truth,
        convert_options=pacsv.ConvertOptions(
            column_types={"Record ID": pa.string(), "tech": pa.string()},
            strings_can_be_null=False,
        ),
    )
    export = pacsv.read_csv(
        files.companies,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=["Record ID", "Year Founded", "Total Money Raised"],
            column_types={
                "Record ID": pa.string(),
                "Year Founded": pa.int32(),
                "Total Money Raised": pa.float64(),
            },
        ),
    )
    by_id = {
        rid: (year, raised)
        for rid, year, raised in zip(
            export["Record ID"].to_pylist(),
            export["Year Founded"].to_pylist(),
            export["Total Money Raised"].to_pylist(),
            strict=True,
        )
    }
    seen: set[str] = set()
    keep = []
    for i, domain in enumerate(truth["domain"].to_pylist()):
        if domain not in seen:
            seen.add(domain)
            keep.append(i)
    truth = truth.take(pa.array(keep))
    ids = truth["Record ID"].to_pylist()
    tech = [[t for t in s.split(";") if t] for s in truth["tech"].to_pylist()]
    employees = truth["employees"].to_numpy()
    industry = truth["industry"].to_pylist()
    table = pa.table(
        {
            "account_key": truth["domain"],
            "name": truth["name"],
            "employees": employees,
            "revenue": truth["annual_revenue_usd"].cast(pa.float64()),
            "industry": industry,
            "country": truth["country"],
            "funding_stage": pa.nulls(len(ids), pa.string()),
            "founded_year": pa.array([by_id.get(r, (None, None))[0] for r in ids], pa.int32()),
            "technologies": pa.array(tech, pa.list_(pa.string())),
            "total_funding": pa.array([by_id.get(r, (None, None))[1] for r in ids], pa.float64()),
        },
        schema=SCHEMA,
    )
    is_icp = planted_icp(definition, {"employees": employees, "industry": industry, "tech": tech})
    customer = truth["customer"].to_numpy() == 1
    return table, _truth(table["account_key"], is_icp, customer)


def _new_companies(
    crm_seed: int, seed: int, k: int, c0: int, n: int, definition: list[dict[str, Any]]
) -> tuple[pa.Table, pa.Table]:
    """Chunk ``k`` of new companies: the world's company draws (no deals), named after the
    CRM's companies (index ``c0`` on) so that no domain repeats one of the CRM's."""
    world_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPAWN, k, 0)))
    fmt = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPAWN, k, 1)))
    w = simulate(world_rng, 0, n)
    names = _names(w, fmt, crm_seed, c0, Counter())
    tech = _tech_lists(w)
    industry = np.asarray(T.INDUSTRIES, dtype=object)[w.ind]
    table = pa.table(
        {
            "account_key": names.domain,
            "name": names.base,
            "employees": w.emp,
            "revenue": w.revenue.astype(np.float64),
            "industry": industry.tolist(),
            "country": np.asarray(T.COUNTRIES, dtype=object)[w.cty].tolist(),
            "funding_stage": pa.nulls(n, pa.string()),
            "founded_year": w.founded.astype(np.int32),
            "technologies": pa.array(tech, pa.list_(pa.string())),
            "total_funding": pa.array(w.raised.astype(np.float64), mask=w.raised == 0),
        },
        schema=SCHEMA,
    )
    is_icp = planted_icp(definition, {"employees": w.emp, "industry": industry, "tech": tech})
    return table, _truth(table["account_key"], is_icp, np.zeros(n, dtype=bool))


def _tech_lists(w: World) -> list[list[str]]:
    """Each company's tools, looked up by its bit mask of the tool set."""
    table = [
        [t for i, t in enumerate(T.TOOLS) if mask >> i & 1] for mask in range(1 << len(T.TOOLS))
    ]
    return [table[m] for m in w.tech_mask.tolist()]


def _truth(keys: Any, is_icp: np.ndarray, customer: np.ndarray) -> pa.Table:
    return pa.table(
        {"account_key": keys, "is_icp": pa.array(is_icp), "customer": pa.array(customer)},
        schema=TRUTH_SCHEMA,
    )
