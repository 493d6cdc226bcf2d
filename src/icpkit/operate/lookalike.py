"""Lookalikes: the companies of a universe most like the workspace's Tier 1 customers.

An account is a vector of its attributes, as the attribute registry defines them: each
number cut into ranges (employees, revenue, or any such attribute registered) as its log,
standardized on the workspace's accounts; each category (industry, country, funding stage)
one column per value; one column per tool. Each attribute is weighted by how well it tells
Tier 1 customers apart from the workspace's other accounts (its information value), so the
market's common traits (US, Google Analytics) barely count and the traits of the best
customers do. The squared distance between two accounts is then the weighted count of
attributes on which they differ (for numbers: the squared difference in standard
deviations), and

    similarity = 1 - distance^2 / total weight        (1: alike on everything that matters)

A company ranks by its mean similarity to its k nearest Tier 1 customers, found exactly in
a k-d tree of them (comparing every company with every customer took over ten minutes for
350,000 companies and 85,000 customers). The universe is read in Arrow batches and only a
running top-N is kept, so its size is bounded by disk, not memory. Existing customers and
accounts matching an ICP exclusion never appear::

    hits = ws.lookalikes(Path("universe.parquet"), top=100)
    print(hits[0].account_key, hits[0].explain())
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icpkit.analysis.stats import information_value
from icpkit.attributes import (
    MISSING,
    Category,
    Context,
    Definition,
    NumericRange,
    definitions,
    value_sql,
    words,
)
from icpkit.config import AnalysisSettings, Settings
from icpkit.engines.features import condition_sql
from icpkit.engines.scorecard import NO_RULES, build_scorecard
from icpkit.errors import IcpkitError, NothingToShow
from icpkit.icp.model import ICP
from icpkit.operate.universe import VIEW, create_view, open_universe, scratch
from icpkit.output.files import sweep_stale, temp_prefix
from icpkit.store.db import arrow_table, attach_read_only, identifier

BATCH_ROWS = 65_536
# Threads looking up a batch's rows in the tree of Tier 1 customers.
_WORKERS = max(1, min(4, os.cpu_count() or 1))
MAX_TOOLS = 300
# Attributes weighing less than this share of the heaviest one are not named as shared.
NAMED_SHARE = 0.1
# Lookalikes are ranked only when Tier 1 customers differ from the other accounts more than
# a random choice of as many accounts would, in this share of shuffles at most.
SEPARATION_ALPHA = 0.05
PERMUTATIONS = 99


def _compared(definition: Definition) -> bool:
    """Whether an attribute is one of the account's own (not of a day, not a family)."""
    return definition.family == "fit" and definition.account_level and definition.prefix is None


def numeric_attributes() -> tuple[str, ...]:
    """The numbers cut into ranges (employees, revenue): compared as standardized logs and
    weighed by how their ranges tell Tier 1 apart."""
    return tuple(d.key for d in definitions() if isinstance(d, NumericRange) and _compared(d))


def categorical_attributes() -> tuple[str, ...]:
    """The categories (industry, country, funding stage): one column per value."""
    return tuple(d.key for d in definitions() if isinstance(d, Category) and _compared(d))


def band(name: str) -> str:
    """The column holding numeric attribute ``name``'s range label: 'employees_band'."""
    return f"{name}_band"


def _weighed() -> str:
    """The attributes the lookalikes weigh, in words, for messages."""
    names = (*numeric_attributes(), *categorical_attributes())
    return ", ".join([*(words(n) for n in names), "technologies"])


class LookalikeError(IcpkitError):
    """Lookalikes cannot be found as asked; the message says what is missing."""


class NothingSeparates(LookalikeError, NothingToShow):
    """There is nothing to rank by: no Tier 1 customers, or nothing tells them (or won deals)
    apart from the rest, so any ranking would be noise; the answer is this message, not a
    list."""


@dataclass(frozen=True)
class Neighbour:
    """A Tier 1 customer near a lookalike, and how similar the two are (0-1)."""

    account_key: str
    name: str | None
    similarity: float


@dataclass(frozen=True)
class Lookalike:
    """A universe company like the Tier 1 customers, with its nearest ones and what they share."""

    account_key: str
    name: str | None
    similarity: float
    neighbours: tuple[Neighbour, ...]
    shared: tuple[str, ...]

    def explain(self) -> str:
        """One line for a sales rep: 'Software, 51-200 employees, uses HubSpot; like Kazomi
        Labs (0.97), Tuzara Data (0.95)'."""
        like = ", ".join(f"{n.name or n.account_key} ({n.similarity:.2f})" for n in self.neighbours)
        traits = ", ".join(self.shared) if self.shared else "no single trait in common"
        return f"{traits}; like {like}"


@dataclass(frozen=True)
class Encoder:
    """How an account becomes a weighted vector, learned from the workspace's accounts."""

    weights: dict[str, float]  # attribute, or 'tech:<tool>', -> weight
    centre: dict[str, float]  # numeric attribute -> mean of log1p(value)
    scale: dict[str, float]  # numeric attribute -> standard deviation of log1p(value)
    vocab: dict[str, list[str]]  # categorical attribute -> its values
    tools: list[str]
    tool_share: np.ndarray  # share of accounts using each tool: a missing stack's stand-in

    @property
    def total(self) -> float:
        """The most two accounts can differ by on categories: the sum of the weights."""
        return float(sum(self.weights.values()))

    def encode(self, cols: dict[str, Any]) -> np.ndarray:
        """Rows as vectors whose squared distances are the weighted differences."""
        n = len(cols["account_key"])
        blocks: list[np.ndarray] = []
        for name in self.centre:
            values = np.asarray(cols[name], dtype=np.float64)
            z = (np.log1p(np.clip(values, 0, None)) - self.centre[name]) / self.scale[name]
            z = np.where(np.isnan(z), 0.0, z)  # unknown: the middle of the market
            blocks.append((math.sqrt(self.weights[name]) * z)[:, None])
        for name, vocab in self.vocab.items():
            onehot = np.zeros((n, len(vocab) + 1))
            values = cols[name]
            index = pc.index_in(values, value_set=pa.array(vocab, pa.string()))
            codes = index.fill_null(len(vocab)).to_numpy(zero_copy_only=False)
            known = ~np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
            # A value outside the vocabulary differs from every known one; an unknown value
            # differs half as much from each.
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(math.sqrt(self.weights[name] / 2) * onehot)
        tech = np.zeros((n, len(self.tools)))
        lists = cols["technologies"]
        if self.tools:
            flat = pc.list_flatten(lists)
            parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
            index = pc.index_in(flat, value_set=pa.array(self.tools, pa.string()))
            found = ~np.asarray(pc.is_null(index).to_numpy(zero_copy_only=False), dtype=bool)
            codes = index.fill_null(0).to_numpy(zero_copy_only=False)
            tech[parents[found], codes[found]] = 1.0
            missing = np.asarray(pc.is_null(lists).to_numpy(zero_copy_only=False), dtype=bool)
            tech[missing] = self.tool_share
            root = np.sqrt(np.array([self.weights[f"tech:{t}"] for t in self.tools]))
            tech *= root
        blocks.append(tech)
        return np.hstack(blocks).astype(np.float32)


def find_lookalikes(
    icp: ICP,
    tier1: list[str],
    settings: Settings,
    root: Path,
    store_path: Path,
    universe: Path,
    *,
    top: int,
    k: int = 5,
    warnings: list[str] | None = None,
) -> list[Lookalike]:
    """The ``top`` companies of ``universe`` most like the Tier 1 customers ``tier1`` (their
    account keys in the store at ``store_path``; mean similarity to their ``k`` nearest),
    best first, leaving out customers and accounts ``icp`` excludes. What reading the
    universe found (values it could not read) is added to ``warnings``."""
    if top < 1 or k < 1:
        raise LookalikeError(f"top and k must be at least 1; got top={top}, k={k}")
    if build_scorecard(icp, settings.scoring).flat:
        raise NothingSeparates(
            f"{NO_RULES}. Nothing separates won from lost deals, so likeness to the Tier 1 "
            "customers is no evidence of fit: no lookalikes are ranked"
        )
    tier1 = sorted(tier1)
    if not tier1:
        raise NothingSeparates(
            "no Tier 1 customers in the workspace: nothing to look like, so no lookalikes "
            "are ranked (see icp analyze tiers)"
        )
    analysis = settings.analysis
    # A raw export is read once, through ingestion, into a file in the input layout.
    sweep_stale(root)
    tmp = tempfile.TemporaryDirectory(prefix=temp_prefix("lookalike"), dir=root)
    try:
        read = open_universe(Path(universe), settings, store_path, icp, workdir=Path(tmp.name))
    except BaseException:
        tmp.cleanup()
        raise
    if warnings is not None:
        warnings.extend(read.warnings())
    con = scratch(settings.store, root)
    try:
        attach_read_only(con, store_path)
        accounts = arrow_table(con, _select(analysis, "ws.accounts", "TRUE"))
        encoder = fit_encoder(accounts, set(tier1))
        p_value = separation_p_value(accounts, set(tier1))
        if p_value > SEPARATION_ALPHA:
            raise NothingSeparates(
                f"the {len(tier1):,} Tier 1 customers differ from the other accounts no more "
                f"than a random choice of as many accounts would ({_weighed()}; permutation "
                f"test, p = {p_value:.2f}): no lookalikes are ranked"
            )
        reference = accounts.filter(_among(accounts["account_key"], tier1))
        others = create_view(con, read.path, icp)
        name = "a.name" if "name" in others else "NULL::VARCHAR"
        reader = _batches(con, _candidates_sql(icp, analysis, name))
        best = _nearest(reader, encoder, reference, top, k)
    finally:
        con.close()
        tmp.cleanup()
    return _explain(best, encoder, reference)


def _candidates_sql(icp: ICP, analysis: AnalysisSettings, name: str) -> str:
    """The universe's accounts that may be lookalikes: not customers, matching no exclusion."""
    excluded = [
        condition_sql(e, analysis, f"exclusions {e.id}", as_of="CURRENT_DATE", extra_columns=True)
        for e in icp.exclusions
    ]
    any_excluded = " OR ".join(f"({e})" for e in excluded) or "FALSE"
    won = "SELECT account_key FROM ws.deals WHERE outcome = 'won' AND account_key IS NOT NULL"
    where = (
        f"a.account_key IS NOT NULL AND NOT coalesce({any_excluded}, FALSE) "
        f"AND a.account_key NOT IN ({won})"
    )
    return _select(analysis, VIEW, where, name)


def _select(analysis: AnalysisSettings, table: str, where: str, name: str = "a.name") -> str:
    """The attributes of every account of ``table`` (alias a) matching ``where``: each
    number and its range label, each category, the stack."""
    columns = [f"a.account_key, {name} AS name"]
    by_key = {d.key: d for d in definitions()}
    numeric = numeric_attributes()
    for key in numeric:
        number = by_key[key].number_sql(key, Context())
        columns.append(f"CAST({number} AS DOUBLE) AS {identifier(key)}")
    for key in categorical_attributes():
        category = by_key[key]
        assert isinstance(category, Category)
        columns.append(f"{Context().column(category.field)} AS {identifier(key)}")
    columns.append("a.technologies")
    columns += [f"{value_sql(key, analysis)} AS {identifier(band(key))}" for key in numeric]
    return f"SELECT {', '.join(columns)} FROM {table} AS a WHERE {where}"


def _batches(con: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """The rows of ``sql`` as a stream of Arrow batches, never all in memory."""
    relation = con.sql(sql)
    fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return fetch(BATCH_ROWS)


def _among(keys: pa.Array | pa.ChunkedArray, wanted: Sequence[str] | set[str]) -> pa.Array:
    """Whether each of ``keys`` is one of ``wanted``, by hashing: numpy's isin compares an
    object array with each wanted key in turn (100,000 accounts and 5,000 customers: 5 s)."""
    among = pc.is_in(keys, value_set=pa.array(list(wanted), pa.string()))
    return among.combine_chunks() if isinstance(among, pa.ChunkedArray) else among


def _columns(batch: pa.RecordBatch | pa.Table) -> dict[str, Any]:
    """A batch's columns: numbers as float arrays (NaN unknown), the rest as Arrow arrays."""
    cols: dict[str, Any] = {}
    numeric = set(numeric_attributes())
    for name in batch.schema.names:
        column = batch.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if name in numeric:
            cols[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            cols[name] = column
    return cols


def _levels(values: pa.Array, missing: str = MISSING) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of ``values`` (``missing`` for an unknown one) in sorted order, and
    each row's index among them."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(pc.fill_null(text, missing))
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return encoded.dictionary.take(order), rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _iv(values: pa.Array, tier1: np.ndarray) -> float:
    """Information value of one attribute's values for Tier 1 against the other accounts."""
    levels, index = _levels(values)
    won = np.bincount(index[tier1], minlength=len(levels))
    lost = np.bincount(index[~tier1], minlength=len(levels))
    if len(levels) < 2 or won.sum() == 0 or lost.sum() == 0:
        return 0.0
    _, value = information_value(won, lost)
    return 0.0 if math.isnan(value) else float(value)


def _stack_pairs(stacks: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """The tools of the accounts' ``stacks`` (sorted), and each (account, tool) pair once, even
    where a stack lists a tool twice: (tools, account, tool), with whether each stack is
    unknown."""
    unknown = np.asarray(pc.is_null(stacks).to_numpy(zero_copy_only=False), dtype=bool)
    flat = pc.list_flatten(stacks)
    parents = pc.list_parent_indices(stacks)
    named = pc.is_valid(flat)
    flat, parents = flat.filter(named), parents.filter(named)
    if len(flat) == 0:
        none = np.zeros(0, dtype=np.int64)
        return pa.array([], pa.string()), none, none, unknown
    tools, codes = _levels(flat)
    n = len(tools)
    pairs = np.sort(parents.to_numpy(zero_copy_only=False).astype(np.int64) * n + codes)
    # Sorted, each pair once (numpy's unique hashes its input first: six times the time).
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    return tools, pairs // n, pairs % n, unknown


def _iv_rows(won: np.ndarray, lost: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """Information value of each row of (won, lost) count tables, as
    ``stats.information_value`` computes one; 0 for a row without wins or losses."""
    won = np.asarray(won, dtype=np.float64)
    lost = np.asarray(lost, dtype=np.float64)
    bins = won.shape[1]
    total_won = won.sum(axis=1, keepdims=True)
    total_lost = lost.sum(axis=1, keepdims=True)
    share_won = (won + smoothing) / (total_won + smoothing * bins)
    share_lost = (lost + smoothing) / (total_lost + smoothing * bins)
    parts = (share_won - share_lost) * np.log(share_won / share_lost)
    iv = parts.sum(axis=1)
    return np.where((total_won[:, 0] > 0) & (total_lost[:, 0] > 0), iv, 0.0)


def separation_p_value(
    accounts: pa.Table,
    tier1: set[str],
    *,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> float:
    """How likely Tier 1 customers this different from the other accounts would be by chance:
    the summed information value of the attributes the lookalikes weigh (employee and revenue
    bands, industry, country, funding stage, the ``MAX_TOOLS`` most telling tools) against
    the same sum with the Tier 1 labels shuffled among the accounts (a permutation test;
    stops early once the answer is clearly above ``SEPARATION_ALPHA``)."""
    cols = _columns(accounts)
    is_tier1 = _among(cols["account_key"], tier1).to_numpy(zero_copy_only=False)
    # Every attribute's levels numbered after the previous one's, so that one count of the
    # Tier 1 accounts' codes gives every attribute's table; the others' are the rest.
    codes: list[np.ndarray] = []
    sizes: list[int] = []
    for name in (*(band(n) for n in numeric_attributes()), *categorical_attributes()):
        levels, index = _levels(cols[name])
        if len(levels) > 1:
            codes.append(index + sum(sizes))
            sizes.append(len(levels))
    stacked = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    bounds = np.cumsum([0, *sizes])
    everyone = np.bincount(stacked, minlength=bounds[-1])
    tools, account, tool, unknown = _stack_pairs(cols["technologies"])
    n_tools = len(tools)
    users = np.bincount(tool, minlength=n_tools)
    known, unknowns = int((~unknown).sum()), int(unknown.sum())

    def statistic(flags: np.ndarray) -> float:
        total = 0.0
        won_all = np.bincount(stacked, weights=np.tile(flags, len(sizes)), minlength=bounds[-1])
        lost_all = everyone - won_all
        for lo, hi in itertools.pairwise(bounds):
            won, lost = won_all[lo:hi], lost_all[lo:hi]
            total += float(_iv_rows(won[None, :], lost[None, :])[0])
        if n_tools:
            uses_1 = np.bincount(tool, weights=flags[account], minlength=n_tools)
            uses_0 = users - uses_1
            unknown_1 = int((flags & unknown).sum())
            known_1 = int(flags.sum()) - unknown_1
            known_0, unknown_0 = known - known_1, unknowns - unknown_1
            won = np.column_stack([uses_1, known_1 - uses_1, np.full(n_tools, unknown_1)])
            lost = np.column_stack([uses_0, known_0 - uses_0, np.full(n_tools, unknown_0)])
            values = np.sort(_iv_rows(won, lost))[::-1][:MAX_TOOLS]
            total += float(values[values > 0].sum())
        return total

    if is_tier1.all() or not is_tier1.any():
        return 1.0
    observed = statistic(is_tier1)
    rng = np.random.default_rng(seed)
    at_least = 0
    for done in range(1, permutations + 1):
        if statistic(rng.permutation(is_tier1)) >= observed:
            at_least += 1
        if (1 + at_least) / (1 + permutations) > SEPARATION_ALPHA:
            return (1 + at_least) / (1 + done)  # already too common to be evidence
    return (1 + at_least) / (1 + permutations)


def fit_encoder(accounts: pa.Table, tier1: set[str]) -> Encoder:
    """Weights, scales and vocabularies from the workspace's accounts (``tier1``: the keys of
    the Tier 1 customers among them)."""
    cols = _columns(accounts)
    is_tier1 = _among(cols["account_key"], tier1).to_numpy(zero_copy_only=False)
    weights: dict[str, float] = {}
    centre: dict[str, float] = {}
    scale: dict[str, float] = {}
    for name in numeric_attributes():
        logs = np.log1p(np.clip(cols[name], 0, None))
        known = logs[~np.isnan(logs)]
        centre[name] = float(known.mean()) if known.size else 0.0
        scale[name] = float(known.std()) if known.size > 1 and known.std() > 0 else 1.0
        weights[name] = _iv(cols[band(name)], is_tier1)
    vocab: dict[str, list[str]] = {}
    for name in categorical_attributes():
        values = cols[name]
        vocab[name] = pc.unique(values.drop_null()).sort().to_pylist()
        weights[name] = _iv(values, is_tier1)
    tools, tool_weights, share = _tool_weights(cols["technologies"], is_tier1)
    weights.update({f"tech:{t}": w for t, w in zip(tools, tool_weights, strict=True)})
    if sum(weights.values()) <= 0:
        raise NothingSeparates(
            "the Tier 1 customers look like every other account on the attributes known "
            f"({_weighed()}): no lookalikes are ranked"
        )
    return Encoder(weights, centre, scale, vocab, tools, share)


def _tool_weights(
    stacks: pa.Array, is_tier1: np.ndarray
) -> tuple[list[str], list[float], np.ndarray]:
    """The tools worth a column (the MAX_TOOLS most telling), each tool's information value
    (uses it / does not / stack unknown, Tier 1 against the rest) and share of users."""
    tools, account, tool, unknown = _stack_pairs(stacks)
    names = tools.to_pylist()
    if not names:
        return [], [], np.zeros(0)
    uses_1 = np.bincount(tool[is_tier1[account]], minlength=len(names))
    uses_0 = np.bincount(tool[~is_tier1[account]], minlength=len(names))
    known_1 = int((is_tier1 & ~unknown).sum())
    known_0 = int((~is_tier1 & ~unknown).sum())
    unknown_1, unknown_0 = int((is_tier1 & unknown).sum()), int((~is_tier1 & unknown).sum())
    values = []
    for j in range(len(names)):
        won = np.array([uses_1[j], known_1 - uses_1[j], unknown_1])
        lost = np.array([uses_0[j], known_0 - uses_0[j], unknown_0])
        _, iv = information_value(won, lost) if won.sum() and lost.sum() else (None, 0.0)
        values.append(0.0 if math.isnan(iv) else float(iv))
    order = sorted(range(len(names)), key=lambda j: (-values[j], names[j]))[:MAX_TOOLS]
    order = [j for j in order if values[j] > 0]
    share = (uses_1 + uses_0)[order] / max(1, known_1 + known_0)
    return [names[j] for j in order], [values[j] for j in order], share.astype(float)


@dataclass(order=True)
class _Hit:
    score: float
    order: int  # minus the row number: earlier rows win ties
    row: dict[str, Any] = field(compare=False)
    neighbours: list[tuple[int, float]] = field(compare=False)


def _nearest(
    reader: pa.RecordBatchReader, encoder: Encoder, reference: pa.Table, top: int, k: int
) -> list[_Hit]:
    """The ``top`` rows of ``reader`` with the highest mean similarity to their ``k`` nearest
    reference accounts, each with those neighbours (index, similarity)."""
    customers = Customers.of(encoder.encode(_columns(reference)))
    k = min(k, reference.num_rows)
    total = encoder.total
    heap: list[_Hit] = []
    seen = 0
    for batch in reader:
        cols = _columns(batch)
        distances, near = customers.nearest(encoder.encode(cols), k)
        near_sims = np.clip(1.0 - distances * distances / total, 0.0, 1.0)
        scores = near_sims.mean(axis=1)
        floor = heap[0].score if len(heap) >= top else -1.0
        candidates = np.flatnonzero(scores >= floor)
        if candidates.size > top:
            candidates = candidates[np.argpartition(-scores[candidates], top - 1)[:top]]
        for i in candidates.tolist():
            hit = _Hit(
                float(scores[i]),
                -(seen + i),
                {name: _cell(cols[name], i) for name in cols},
                list(zip(near[i].tolist(), near_sims[i].tolist(), strict=True)),
            )
            if len(heap) < top:
                heapq.heappush(heap, hit)
            elif hit > heap[0]:
                heapq.heapreplace(heap, hit)
        seen += batch.num_rows
    return sorted(heap, reverse=True)


@dataclass(frozen=True)
class Customers:
    """The Tier 1 customers' distinct vectors in a k-d tree, and the customers of each (by
    index, in order): a CRM that records little about its customers gives thousands of them
    one vector, which a tree of every customer cannot split (85,000 customers in 300 vectors,
    350,000 companies: 54 s, against 1.5 s for a tree of the 300)."""

    tree: Any
    starts: np.ndarray  # where each vector's customers begin in ``members``
    counts: np.ndarray  # how many customers each vector stands for
    members: np.ndarray  # customer indices, grouped by vector

    @classmethod
    def of(cls, vectors: np.ndarray) -> Customers:
        """The customers whose vectors are the rows of ``vectors``."""
        from scipy.spatial import cKDTree

        distinct, which, counts = np.unique(
            np.asarray(vectors, dtype=np.float64), axis=0, return_inverse=True, return_counts=True
        )
        members = np.argsort(which.ravel(), kind="stable")
        return cls(cKDTree(distinct), np.cumsum(counts) - counts, counts, members)

    def nearest(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The distances to the ``k`` (at most as many as there are customers) nearest
        customers of each row of ``x`` and their indices, nearest first. The rows are looked up
        in the order of their coordinates, so that neighbouring lookups walk the same branches
        (a third of the time of the file's order)."""
        if not len(x):
            return np.empty((0, k)), np.empty((0, k), dtype=np.int64)
        order = np.lexsort(x.T[::-1])
        found = min(k, len(self.counts))
        distances, vectors = self.tree.query(
            x[order].astype(np.float64), k=[*range(1, found + 1)], workers=_WORKERS
        )
        # The j-th nearest customer belongs to the first vector whose customers, with those
        # of the nearer vectors, number more than j.
        covered = np.cumsum(self.counts[vectors], axis=1)
        place = np.arange(k)
        column = (covered[:, :, None] <= place[None, None, :]).sum(axis=1)
        before = np.where(column > 0, np.take_along_axis(covered, np.maximum(column - 1, 0), 1), 0)
        vector = np.take_along_axis(vectors, column, axis=1)
        near = self.members[self.starts[vector] + place[None, :] - before]
        out_distances, out_near = np.empty((len(x), k)), np.empty((len(x), k), dtype=np.int64)
        out_distances[order] = np.take_along_axis(distances, column, axis=1)
        out_near[order] = near
        return out_distances, out_near


def _cell(column: Any, i: int) -> Any:
    if isinstance(column, np.ndarray):
        value = float(column[i])
        return None if math.isnan(value) else value
    return column[i].as_py()


def _explain(hits: list[_Hit], encoder: Encoder, reference: pa.Table) -> list[Lookalike]:
    """Lookalikes with their neighbours named and the traits they share with them."""
    refs = reference.to_pylist()
    heaviest = max(encoder.weights.values())
    named = {a for a, w in encoder.weights.items() if w >= NAMED_SHARE * heaviest}
    out = []
    for hit in hits:
        neighbours = [refs[j] for j, _ in hit.neighbours]
        out.append(
            Lookalike(
                account_key=hit.row["account_key"],
                name=hit.row.get("name"),
                similarity=round(hit.score, 4),
                neighbours=tuple(
                    Neighbour(r["account_key"], r.get("name"), round(s, 4))
                    for r, (_, s) in zip(neighbours, hit.neighbours, strict=True)
                ),
                shared=shared_traits(hit.row, neighbours, named, encoder.weights),
            )
        )
    return out


def shared_traits(
    row: dict[str, Any],
    neighbours: Sequence[dict[str, Any]],
    named: set[str],
    weights: dict[str, float],
) -> tuple[str, ...]:
    """What ``row`` has in common with most of its ``neighbours``, weightiest first:
    ('Software', '51-200 employees', 'uses HubSpot')."""
    half = len(neighbours) / 2

    def most(test: Any) -> bool:
        return sum(1 for n in neighbours if test(n)) >= half

    traits: list[tuple[float, str]] = []
    numeric = numeric_attributes()
    for name in (*categorical_attributes(), *numeric):
        if name not in named:
            continue
        key = band(name) if name in numeric else name
        value = row.get(key)
        if value is None or value == MISSING or not most(lambda n, k=key, v=value: n.get(k) == v):
            continue
        # A range names what it measures ('51-200 employees'); a category is its value.
        text = f"{value} {words(name)}" if name in numeric else value
        traits.append((weights[name], str(text)))
    for tool in row.get("technologies") or ():
        attribute = f"tech:{tool}"
        if attribute in named and most(lambda n, t=tool: t in (n.get("technologies") or ())):
            traits.append((weights[attribute], f"uses {tool}"))
    return tuple(text for _, text in sorted(traits, key=lambda t: -t[0]))
