"""The per-deal attribute matrix: every closed new-business deal with one text value per
attribute, from the analysis frame's own SQL, for models that learn deal by deal."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icpkit.analysis.frame import (
    SIGNAL_ALIAS,
    Attribute,
    discover_attributes,
    extra_read_once,
    prepare,
)
from icpkit.attributes import MISSING, definition_of
from icpkit.attributes.extra import account_slices
from icpkit.config import AnalysisSettings
from icpkit.store.db import arrow_table


@dataclass(frozen=True)
class DealMatrix:
    """Closed deals (rows) by attribute values (text columns), with outcome and dates.

    ``columns`` hold object arrays whose cells share one string per distinct value, so a
    million deals by forty attributes stays small; ``codes`` reads the matching integer codes.
    The arrays are read-only by convention: build a new matrix rather than edit one in place.
    """

    deal_keys: np.ndarray
    account_keys: np.ndarray
    won: np.ndarray  # int8, 1 won
    created_at: np.ndarray  # datetime64, NaT when unknown
    closed_at: np.ndarray  # datetime64, NaT when unknown
    cycle_days: np.ndarray  # float64, NaN when unknown
    columns: dict[str, np.ndarray]
    attributes: list[Attribute]
    # Per column: the values array it encodes, codes into its distinct values, and those.
    _encoded: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __len__(self) -> int:
        return int(self.won.shape[0])

    def attribute(self, name: str) -> Attribute:
        """The attribute behind column ``name``."""
        return next(a for a in self.attributes if a.name == name)

    def subset(self, rows: np.ndarray) -> DealMatrix:
        """The deals selected by ``rows`` (a boolean mask or row indices), columns aligned."""
        columns = {name: values[rows] for name, values in self.columns.items()}
        encoded = {
            name: (columns[name], codes[rows], dictionary)
            for name, (values, codes, dictionary) in self._encoded.items()
            if name in columns and values is self.columns[name]
        }
        return replace(
            self,
            deal_keys=self.deal_keys[rows],
            account_keys=self.account_keys[rows],
            won=self.won[rows],
            created_at=self.created_at[rows],
            closed_at=self.closed_at[rows],
            cycle_days=self.cycle_days[rows],
            columns=columns,
            _encoded=encoded,
        )

    def levels(self, name: str) -> list[str]:
        """Values of column ``name``: the attribute's order for ordinal and binary attributes
        (all of it, so codes agree across subsets), else the values present, sorted, with
        ``(missing)`` last."""
        order = list(self.attribute(name).order)
        codes, dictionary = self._dictionary(name)
        present = [dictionary[i] for i in np.unique(codes).tolist()]
        extra = sorted((v for v in present if v not in order), key=lambda v: (v == MISSING, v))
        return order + extra

    def codes(self, name: str, levels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """Integer codes of column ``name`` (int64) and the levels they index: ``levels`` when
        given (a value not among them gets -1, e.g. a category unseen in training), else
        :meth:`levels`."""
        if levels is None:
            levels = self.levels(name)
        codes, dictionary = self._dictionary(name)
        index = {value: i for i, value in enumerate(levels)}
        lookup = np.array([index.get(v, -1) for v in dictionary] + [-1], dtype=np.int64)
        return lookup[codes], list(levels)

    def _dictionary(self, name: str) -> tuple[np.ndarray, list[str]]:
        """Codes of column ``name`` into its distinct values, cached while the column is the
        same array (a matrix built with ``replace(columns=...)`` is encoded afresh)."""
        values = self.columns[name]
        cached = self._encoded.get(name)
        if cached is None or cached[0] is not values:
            dictionary, codes = np.unique(values.astype(str), return_inverse=True)
            cached = (values, codes.astype(np.int32).ravel(), [str(v) for v in dictionary])
            self._encoded[name] = cached
        return cached[1], cached[2]


def deal_matrix(
    con: duckdb.DuckDBPyConnection, settings: AnalysisSettings, *, profiled_only: bool = True
) -> DealMatrix:
    """Every closed new-business deal of the store, in deal key order, with each attribute's
    value (only those tested in won vs lost with ``profiled_only``).

    Runs :func:`prepare`, so the temp table ``closed`` afterwards holds every closed deal.
    """
    prepare(con)
    attributes = [a for a in discover_attributes(con, settings) if a.profiled or not profiled_only]
    selects, joins = [], []
    for i, attribute in enumerate(attributes):
        sql = attribute.sql
        definition = definition_of(attribute.name)
        if attribute.join and definition is not None:
            # build_frame joins one family as ``sl``; here each family gets its own alias.
            joins.append(definition.join(attribute.name, f"sl{i}"))
            sql = SIGNAL_ALIAS.sub(f"sl{i}.", sql)
        selects.append(f", {sql} AS v{i}")
    # The unmapped columns from one parse of each account's JSON, not a parse per column.
    selects, accounts = extra_read_once(selects, lambda: account_slices(con))
    query = f"""SELECT c.deal_key, c.account_key, c.won, c.created_at, c.closed_at,
                       c.cycle_days::DOUBLE AS cycle_days {"".join(selects)}
                FROM closed c JOIN {accounts} a USING (account_key) {" ".join(joins)}
                ORDER BY c.deal_key"""
    table = arrow_table(con, query)
    columns: dict[str, np.ndarray] = {}
    encoded: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for i, attribute in enumerate(attributes):
        codes, dictionary = _dictionary_encode(table.column(f"v{i}"))
        shared = np.empty(len(dictionary), dtype=object)
        shared[:] = dictionary
        columns[attribute.name] = shared[codes]
        encoded[attribute.name] = (columns[attribute.name], codes, dictionary)
    return DealMatrix(
        deal_keys=_objects(table.column("deal_key")),
        account_keys=_objects(table.column("account_key")),
        won=table.column("won").to_numpy(zero_copy_only=False).astype(np.int8),
        created_at=_datetimes(table.column("created_at")),
        closed_at=_datetimes(table.column("closed_at")),
        cycle_days=table.column("cycle_days").to_numpy(zero_copy_only=False).astype(np.float64),
        columns=columns,
        attributes=attributes,
        _encoded=encoded,
    )


def _dictionary_encode(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Codes (int32) into the distinct values of a text column without NULLs."""
    encoded = pc.dictionary_encode(column.fill_null(MISSING)).combine_chunks()
    if len(encoded) == 0:
        return np.zeros(0, dtype=np.int32), []
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _datetimes(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps (or dates) as datetime64[us], NaT where NULL."""
    values: np.ndarray = column.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype="datetime64[us]")
