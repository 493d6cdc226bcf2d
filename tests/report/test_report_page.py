"""The report page itself: the demo's report is small, holds every section and never shows
``nan``; ``icp report --format md`` writes the same sections; where nothing discriminates the
page leads with that; text from the data cannot inject markup."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_pages import Demo, read_tables
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.report import NOTHING_HEADLINE
from icpkit.report.html import render_view_html
from icpkit.report.markdown import render_view_markdown
from icpkit.report.numbers import Cell
from icpkit.report.svg import Point, interval_chart
from icpkit.report.view import Paragraph, Section, Table, View
from icpkit.workspace import Workspace
from small_crm import SmallCrm

SECTIONS = {
    "icp": "The ICP",
    "segments": "Where you win",
    "score": "Does the score work",
    "market": "The market",
    "changes": "What changed",
    "quality": "Data quality",
}
NOT_A_NUMBER = re.compile(r"\b(nan|inf|-inf|None)\b", re.IGNORECASE)


def visible_text(html: str) -> str:
    """The page's text without its markup, styles and SVG attributes."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.slow
def test_the_demo_report_is_small_and_holds_every_section(demo: Demo) -> None:
    html = demo.html.read_text(encoding="utf-8")
    assert demo.html.stat().st_size < 2 * 1024 * 1024
    for key, title in SECTIONS.items():
        assert f'<section id="{key}"' in html and title in html
    tables = read_tables(html)
    for table in (
        "icp-fit",
        "lift",
        "models",
        "score-tiers",
        "calibration",
        "tam",
        "widen",
        "lookalikes",
        "versions",
        "imports",
        "coverage",
    ):
        assert tables.rows(table), f"table {table} is empty"
    assert html.count("<svg") >= 7  # lift, AUCs, ROC, gains, tiers, calibration, funnel...
    assert NOT_A_NUMBER.search(visible_text(html)) is None
    assert NOTHING_HEADLINE not in html


@pytest.mark.slow
def test_the_demo_report_requests_nothing_from_any_server(demo: Demo) -> None:
    html = demo.html.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.search(r"""(src|href)\s*=\s*["'](?!#)""", html) is None


@pytest.mark.slow
def test_icp_report_format_md_writes_the_same_sections(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--format",
            "md",
            "-o",
            str(out),
            "--universe",
            str(demo.universe),
            "--no-challengers",
            "-w",
            str(demo.ws.root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    md = out.read_text(encoding="utf-8")
    headings = re.findall(r"^## \d+\. (.+)$", md, flags=re.M)
    assert headings == list(SECTIONS.values())
    html_headings = re.findall(
        r'<h2 id="[a-z]+-title">\d+\. ([^<]+)</h2>', demo.html.read_text(encoding="utf-8")
    )
    assert headings == html_headings
    assert "| attribute value | verdict | lift (95% CI)" in md
    assert NOT_A_NUMBER.search(md) is None


@pytest.mark.slow
def test_where_nothing_discriminates_the_report_leads_with_it(
    flat: SmallCrm, tmp_path: Path
) -> None:
    html = flat.ws.report(tmp_path / "flat.html", backtest=False).read_text(encoding="utf-8")
    first = html.index('<section id="icp"')
    assert html.index(NOTHING_HEADLINE) < first
    assert "icp-fit" not in html and "icp-exclusions" not in html
    assert NOT_A_NUMBER.search(visible_text(html)) is None
    md = flat.ws.report(tmp_path / "flat.md", fmt="md", backtest=False).read_text("utf-8")
    assert md.index(NOTHING_HEADLINE) < md.index("## 1. The ICP")


def test_a_report_without_a_backtest_or_universe_says_what_is_missing(
    flat: SmallCrm, tmp_path: Path
) -> None:
    html = flat.ws.report(tmp_path / "r.html", backtest=False).read_text(encoding="utf-8")
    assert "The backtest was not run for this report" in html
    assert "No company universe was given" in html


def test_a_workspace_without_an_icp_says_to_derive_one(ws: Workspace, tmp_path: Path) -> None:
    html = ws.report(tmp_path / "r.html", backtest=False).read_text(encoding="utf-8")
    assert "No ICP yet: run icp derive first." in html
    assert NOTHING_HEADLINE not in html  # no data is not data in which nothing discriminates
    assert all(f'<section id="{key}"' in html for key in SECTIONS)


def test_an_unknown_format_is_refused_with_the_formats_there_are(
    flat: SmallCrm, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["report", "--format", "pdf", "-o", str(tmp_path / "r"), "-w", str(flat.ws.root)]
    )
    assert result.exit_code == 2
    assert "html" in result.output and "md" in result.output


def hostile_view() -> View:
    cells = [Cell("<script>alert(1)</script>"), Cell("a | b"), Cell("–", None, "why <b>")]
    table = Table("t", "caption <i>", ["x", "y", "z"], [cells])
    return View("<title>", ["header & co"], [], [Section("s", "S", [Paragraph("<p>"), table])])


def test_text_from_the_data_is_escaped_never_markup() -> None:
    html = render_view_html(hostile_view())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "caption &lt;i&gt;" in html and 'title="why &lt;b&gt;"' in html


def test_a_markdown_cell_holding_a_pipe_keeps_the_table_whole() -> None:
    md = render_view_markdown(hostile_view())
    row = next(line for line in md.splitlines() if "alert" in line)
    assert row == "| <script>alert(1)</script> | a \\| b | – |"
    assert "– why <b>" in md  # the reason under the table


def test_a_value_that_cannot_be_computed_is_a_dash_with_its_reason() -> None:
    from icpkit.report.numbers import interval, lift, number, prose

    nan = float("nan")
    assert number(nan, ".0%", "no deals") == Cell("–", None, "no deals")
    assert interval(0.5, nan, nan, ".0%", "x").text == "50%"
    assert lift(nan, 1.0, 2.0, "no rest").text == "–"
    assert prose(float("inf"), ".1f", "no deals") == "not computable: no deals"


def test_a_chart_leaves_out_what_cannot_be_computed() -> None:
    nan = float("nan")
    svg = interval_chart(
        [Point("a", 2.0, 1.5, 2.5, True), Point("b", nan, nan, nan)],
        title="t",
        axis="lift",
        reference=1.0,
        log=True,
    )
    assert ">a</text>" in svg and ">b</text>" not in svg
    assert "nan" not in svg.lower()
