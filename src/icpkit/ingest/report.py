"""What happened to one file when it was read: counts, the layout chosen, problems and notes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from icpkit.ingest.detect import Layout
from icpkit.ingest.problems import Problem


@dataclass
class FileReport:
    """What happened to one file: counts, the layout chosen, problems and notes."""

    path: Path
    entity: str = ""
    system: str = ""
    layout: Layout | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    cells_quarantined: int = 0
    duplicates_merged: int = 0
    blank_records: int = 0
    skipped: str | None = None
    # Skipped because detection could not tell what the file holds (see ``skipped``).
    unrecognized: bool = False
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Said loudly: what the file lacks and the column that most likely holds it.
    warnings: list[str] = field(default_factory=list)
    # Deals loaded without an account (no company id, name or domain links them).
    unlinked: int = 0
    import_id: int | None = None
    dry_run: bool = False
    # Records earlier versions of this file loaded that it no longer has, and how many of
    # them were removed (ingest.missing_rows: retire); see docs/ingest.md, "Re-imports".
    rows_missing: int = 0
    rows_retired: int = 0

    def reasons(self) -> dict[str, int]:
        """Quarantined rows and cells counted by reason (the reason's first clause)."""
        counts: dict[str, int] = {}
        for p in self.problems:
            key = f"{p.scope}: {_reason_family(p.reason)}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _reason_family(reason: str) -> str:
    # Reasons carry specifics ("unknown country 'Mars'", "duplicate Record ID 12 ..."):
    # group on the words before them, without quoted values and numbers.
    for sep in (" (", ": ", "; "):
        reason = reason.split(sep)[0]
    reason = re.sub(r"'[^']*'", "", reason)
    return " ".join(w for w in reason.split() if not any(ch.isdigit() for ch in w))
