"""The words every layer shares: dimensions of fit, tiers and routes.

Defined once here so that the settings, the ICP document, the engines and the faces cannot
disagree on a spelling or an order.
"""

from __future__ import annotations

from typing import Literal

Dimension = Literal["firmographic", "technographic", "behavioral", "deal_potential"]
DIMENSIONS: tuple[Dimension, ...] = (
    "firmographic",
    "technographic",
    "behavioral",
    "deal_potential",
)
# The dimensions that make up fit; behavioral is intent.
FIT_DIMENSIONS: tuple[Dimension, ...] = ("firmographic", "technographic", "deal_potential")

Tier = Literal["A", "B", "C", "D"]
TIERS: tuple[str, ...] = ("A", "B", "C", "D")

Route = Literal["work_now", "nurture", "automated_nurture", "disqualify", "never"]
ROUTES: tuple[str, ...] = ("work_now", "nurture", "automated_nurture", "disqualify", "never")

# The SQL dialects the scorecard compiles to (``icp sql --dialect``).
DIALECTS: tuple[str, ...] = ("duckdb", "spark", "postgres", "snowflake", "bigquery")
