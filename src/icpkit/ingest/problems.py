"""What went wrong with an input, said precisely: file, line, column, value and reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from icpkit.errors import IcpkitError

Scope = Literal["file", "row", "cell"]

_MAX_VALUE_SHOWN = 80


@dataclass(frozen=True)
class Problem:
    """One unreadable file, row or cell.

    ``scope`` says what was set aside: the whole file, a row (not loaded), or a
    cell (the row is loaded with the cell left empty, its raw text kept).
    ``line`` is the physical line where the record starts (CSV) or the sheet /
    file row number (XLSX, Parquet).
    """

    file: str
    reason: str
    scope: Scope
    line: int | None = None
    column: str | None = None
    value: str | None = None
    unit: str = "line"

    def message(self) -> str:
        """One sentence a user can act on, e.g. ``deals.csv, line 12, column 'Amount': ...``."""
        where = [self.file]
        if self.line is not None:
            where.append(f"{self.unit} {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where)
        if self.value is not None:
            shown = self.value if len(self.value) <= _MAX_VALUE_SHOWN else self.value[:77] + "..."
            text += f", value {shown!r}"
        return f"{text}: {self.reason}"


class IngestError(IcpkitError):
    """An input that cannot be loaded at all (or, with ``--strict``, its first problem)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message())
        self.problem = problem
