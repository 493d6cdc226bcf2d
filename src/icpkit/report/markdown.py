"""The report as Markdown, for a pull request or a chat message: the same sections and tables
as the HTML page, the charts left out (their tables carry the numbers)."""

from __future__ import annotations

import html

from icpkit.report.data import ReportData
from icpkit.report.view import Chart, Heading, Paragraph, Table, View, build_view


def _escape(text: str) -> str:
    """Cell text safe inside a Markdown table row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    """A table in Markdown; a long one the page folds away (curve points) stays folded, in
    a ``<details>`` block that GitHub and most chat tools render."""
    if table.collapsed:
        caption = f"{_escape(table.caption)} ({len(table.rows)} rows)"
        lines = ["<details>", f"<summary>{html.escape(caption)}</summary>", ""]
    else:
        lines = [f"**{_escape(table.caption)}**", ""]
    lines.append("| " + " | ".join(_escape(c) for c in table.columns) + " |")
    lines.append(
        "| "
        + " | ".join(
            "---:" if any(row[i].value is not None for row in table.rows) else "---"
            for i in range(len(table.columns))
        )
        + " |"
    )
    for row in table.rows:
        lines.append("| " + " | ".join(_escape(c.text) for c in row) + " |")
    if table.footnotes:
        lines += ["", "– " + "; ".join(table.footnotes)]
    if table.collapsed:
        lines += ["", "</details>"]
    return [*lines, ""]


def render_markdown(data: ReportData) -> str:
    """The report of ``data`` as Markdown."""
    return render_view_markdown(build_view(data))


def render_view_markdown(view: View) -> str:
    """A built view as Markdown."""
    lines = [f"# {view.title}", ""]
    lines += [f"_{line}_  " for line in view.header]
    lines.append("")
    for line in view.headline:
        lines += [f"> {line}", ">"]
    if view.headline:
        lines[-1] = ""
    for number, section in enumerate(view.sections, 1):
        lines += [f"## {number}. {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                shown = f"**{block.text}**" if block.strong else block.text
                lines += [f"_{shown}_" if block.note else shown, ""]
            elif isinstance(block, Heading):
                lines += [f"### {block.text}", ""]
            elif isinstance(block, Chart):
                lines += _table(block.table)
            else:
                lines += _table(block)
    return "\n".join(lines).rstrip() + "\n"
