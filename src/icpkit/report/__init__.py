"""The ICP report: what the workspace found, as one HTML page (or Markdown) a person reads.

The workspace gathers its results into a :class:`ReportData`; :func:`render_html` and
:func:`render_markdown` only format them (the page is a view, never a second computation)::

    path = ws.report("icp-report.html", universe="universe.parquet")
"""

from __future__ import annotations

from icpkit.report.data import NOTHING_HEADLINE, ReportData
from icpkit.report.html import render_html
from icpkit.report.markdown import render_markdown

__all__ = ["NOTHING_HEADLINE", "ReportData", "render_html", "render_markdown"]
