"""What every export carries: the ICP version it encodes and the day it was made, and the
one result type the exports return."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP

TARGETS: tuple[str, ...] = ("clay", "sheets", "dbt", "prospecting")
"""What ``icp export`` writes for: Clay tables, spreadsheets, dbt projects, list builders."""


class ExportError(IcpkitError):
    """An export that cannot be written as asked; the message says what to change."""


@dataclass(frozen=True)
class Stamp:
    """The ICP version an export encodes and the day it was made (and the named ICP's name,
    when it is one: ``icps:`` in icp.yaml)."""

    version: int
    made_on: dt.date
    name: str | None = None

    @classmethod
    def of(cls, icp: ICP, today: dt.date | None = None, *, name: str | None = None) -> Stamp:
        return cls(icp.version, today or dt.date.today(), name)

    @property
    def words(self) -> str:
        """'ICP version 3, made 2026-12-02' ('ICP compliance version 2, ...' for a named one).

        >>> Stamp(3, dt.date(2026, 12, 2)).words
        'ICP version 3, made 2026-12-02'
        >>> Stamp(2, dt.date(2026, 12, 2), "compliance").words
        'ICP compliance version 2, made 2026-12-02'
        """
        named = f" {self.name}" if self.name else ""
        return f"ICP{named} version {self.version}, made {self.made_on.isoformat()}"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: its target, the ICP version, the files, and what to tell."""

    target: str
    stamp: Stamp
    files: tuple[Path, ...]
    notes: tuple[str, ...] = field(default=())
