"""The per-deal attribute matrix: every closed new-business deal with one text value per
attribute, built from the same SQL as the analysis frame, for models that learn per deal."""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np

from icpkit.analysis.frame import Attribute, _q, discover_attributes, prepare
from icpkit.config import AnalysisSettings


@dataclass(frozen=True)
class DealMatrix:
    """Closed deals (rows) by attribute values (text columns), with outcome and dates."""

    deal_keys: np.ndarray
    account_keys: np.ndarray
    won: np.ndarray
    created_at: np.ndarray
    columns: dict[str, np.ndarray]
    attributes: list[Attribute]

    def subset(self, rows: np.ndarray) -> DealMatrix:
        """The deals selected by ``rows`` (a mask or indices), columns kept aligned."""
        return replace(
            self,
            deal_keys=self.deal_keys[rows],
            account_keys=self.account_keys[rows],
            won=self.won[rows],
            created_at=self.created_at[rows],
            columns={k: v[rows] for k, v in self.columns.items()},
        )

    def codes(self, name: str, levels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """Integer codes of a column (-1 for a value not in ``levels``) and the levels, in the
        attribute's order when it has one."""
        values = self.columns[name]
        if levels is None:
            attribute = next(a for a in self.attributes if a.name == name)
            seen = sorted(set(values.tolist()))
            levels = [v for v in attribute.order if v in seen] + [
                v for v in seen if v not in attribute.order
            ]
        index = {v: i for i, v in enumerate(levels)}
        return np.array([index.get(v, -1) for v in values.tolist()], dtype=np.int64), levels


def deal_matrix(con: duckdb.DuckDBPyConnection, settings: AnalysisSettings) -> DealMatrix:
    """Every closed new-business deal of the store with each profiled attribute's value."""
    prepare(con)
    attributes = [a for a in discover_attributes(con, settings) if a.profiled]
    selects, joins = [], []
    for i, attribute in enumerate(attributes):
        sql = attribute.sql
        if attribute.name.startswith("signal:"):
            family = _q(attribute.name.removeprefix("signal:"))
            joins.append(
                f"LEFT JOIN signal_last sl{i} ON sl{i}.deal_key = c.deal_key "
                f"AND sl{i}.family = '{family}'"
            )
            sql = sql.replace("sl.", f"sl{i}.")
        selects.append(f"{sql} AS v{i}")
    values = ", ".join(selects) if selects else "NULL AS v_none"
    result = con.execute(
        f"""SELECT c.deal_key, c.account_key, c.won, c.created_at, {values}
            FROM closed c JOIN accounts a USING (account_key) {" ".join(joins)}
            ORDER BY c.deal_key"""
    ).fetchnumpy()
    return DealMatrix(
        np.asarray(result["deal_key"]).astype(str),
        np.asarray(result["account_key"]).astype(str),
        np.asarray(result["won"], dtype=np.int8),
        np.asarray(result["created_at"]),
        {a.name: np.asarray(result[f"v{i}"]).astype(str) for i, a in enumerate(attributes)},
        attributes,
    )
