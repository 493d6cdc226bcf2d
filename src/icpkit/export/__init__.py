"""The ICP exported to the rest of a GTM stack: Clay formula columns, one spreadsheet
formula, a dbt model with its tests, and filter criteria for list-building tools. Each
export names the ICP version it encodes and the day it was made (docs/exports.md)."""

from icpkit.export.stamp import TARGETS, ExportError, ExportResult, Stamp

__all__ = ["TARGETS", "ExportError", "ExportResult", "Stamp"]
