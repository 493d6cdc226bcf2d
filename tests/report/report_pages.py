"""The demo report's record and a reader of a report page's tables: header and, per row,
(text, data-value) cells."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from icpkit.validate.backtest import BacktestResult
from icpkit.workspace import Workspace

WIDEN = {"employees": (20.0, 500.0)}


@dataclass(frozen=True)
class Demo:
    """The demo's workspace (as ``icp demo`` builds it), its backtest and its report."""

    ws: Workspace
    universe: Path
    backtest: BacktestResult
    html: Path
    as_of: dt.date


class Tables(HTMLParser):
    """Every ``<table id=...>`` of a page: its header and, per row, (text, data-value) cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, float | None]]]] = {}
        self.headers: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._value: float | None = None
        self._header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table], self.headers[self._table] = [], []
        elif self._table and tag == "tr":
            self._header = False
            self.tables[self._table].append([])
        elif self._table and tag in ("td", "th"):
            self._cell, self._header = [], tag == "th"
            raw = a.get("data-value")
            self._value = float(raw) if raw else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._table and tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if self._header:
                self.headers[self._table].append(text)
            else:
                self.tables[self._table][-1].append((text, self._value))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[list[tuple[str, float | None]]]:
        """The body rows of ``table`` (the header row left out)."""
        return [r for r in self.tables[table] if r]


def read_tables(html: str) -> Tables:
    """The tables of a report page."""
    parser = Tables()
    parser.feed(html)
    return parser
