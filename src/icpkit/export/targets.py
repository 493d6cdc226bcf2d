"""One entry for every export: the target's name, the ICP, the settings and the options
each target takes (see docs/exports.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from icpkit.config import Settings
from icpkit.export.stamp import TARGETS, ExportError, ExportResult
from icpkit.icp.model import ICP


def export_icp(
    target: str,
    icp: ICP,
    settings: Settings,
    out: Path,
    *,
    as_of: dt.date | None = None,
    dialect: str = "duckdb",
    source: str | None = None,
    columns: Mapping[str, str] | None = None,
    fmt: str = "json",
    name: str | None = None,
    named: Sequence[tuple[str, ICP]] = (),
) -> ExportResult:
    """Write the export ``target`` (one of ``TARGETS``) of ``icp`` into the folder ``out``;
    ``name`` says ``icp`` is that named ICP, and ``named`` ICPs join the main one in the dbt
    model (best_icp and their columns)."""
    if target == "clay":
        from icpkit.export.clay import export_clay

        return export_clay(icp, settings, out, as_of=as_of, name=name)
    if target == "sheets":
        from icpkit.export.sheets import export_sheets

        return export_sheets(icp, settings, out, columns=columns, as_of=as_of, name=name)
    if target == "dbt":
        from icpkit.export.dbt import export_dbt

        return export_dbt(
            icp,
            settings,
            out,
            dialect=dialect,
            source=source,
            as_of=as_of,
            named=named,
            name=name,
        )
    if target == "prospecting":
        from icpkit.export.prospecting import export_prospecting

        return export_prospecting(icp, settings, out, fmt=fmt, name=name)
    raise ExportError(f"unknown export {target!r}: one of {', '.join(TARGETS)}")
