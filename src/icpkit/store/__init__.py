"""The workspace store: one embedded DuckDB file holding accounts, deals, signals and imports."""

from icpkit.store.db import STORE_NAME, connect, first_row, table_counts

__all__ = ["STORE_NAME", "connect", "first_row", "table_counts"]
