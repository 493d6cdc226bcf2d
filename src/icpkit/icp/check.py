"""Checks of ``icp.yaml`` without running anything: errors that stop every command, and
warnings, such as an ICP rule on an ``extra:`` column that no ingested file has.

``icp check`` prints what ``check_workspace`` finds; derive reports the same warnings.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from icpkit.config import CONFIG_NAME, ConfigError, load_settings
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP, load_icp


@dataclass
class CheckResult:
    """What a check found: errors (the file cannot be used) and warnings (it can, but look)."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file can be used (warnings allowed)."""
        return not self.errors


def reported_extra_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Unmapped columns that ingested files reported for their accounts (``extra:<column>``)."""
    rows = con.execute(
        "SELECT DISTINCT unnest(json_keys(extra)) FROM accounts WHERE extra IS NOT NULL"
    ).fetchall()
    return {str(r[0]) for r in rows}


def unknown_extra_columns(icp: ICP, reported: set[str]) -> list[str]:
    """A warning per rule on an ``extra:`` column that is not among ``reported``."""
    warnings = []
    for name, rule in icp.rules():
        attribute = getattr(rule, "attribute", "")
        if not attribute.startswith("extra:"):
            continue
        column = attribute.removeprefix("extra:")
        if column in reported:
            continue
        close = difflib.get_close_matches(column, sorted(reported), n=1, cutoff=0.6)
        hint = f"; did you mean 'extra:{close[0]}'?" if close else ""
        seen = ", ".join(repr(c) for c in sorted(reported)[:10]) or "none"
        warnings.append(
            f"{name} rule {rule.id!r} reads column {column!r} (attribute {attribute!r}), "
            f"which no ingested file has: it matches no account (extra columns seen: "
            f"{seen}){hint}"
        )
    return warnings


def check_workspace(root: Path) -> CheckResult:
    """Validate ``root/icp.yaml`` and, when the store exists, the ICP against the data."""
    from icpkit.store import STORE_NAME, connect

    path = root / CONFIG_NAME
    result = CheckResult(path)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        result.errors.extend(exc.problems)
        return result
    store = root / STORE_NAME
    if settings.icp is None or not store.is_file():
        return result
    icp = load_icp(settings.icp, source=f"{path}: icp")
    try:
        con = connect(store, read_only=True, notice=None)
        try:
            reported = reported_extra_columns(con)
        finally:
            con.close()
    except (duckdb.Error, OSError, IcpkitError) as exc:
        result.warnings.append(f"{store}: not read, so the ICP was not checked against it ({exc})")
        return result
    result.warnings.extend(unknown_extra_columns(icp, reported))
    return result
