"""The report as one self-contained HTML page: inline CSS and SVG, no script, no request."""

from __future__ import annotations

from functools import cache

import jinja2

from icpkit.report.data import ReportData
from icpkit.report.view import View, build_view


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("icpkit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    return env.get_template("report.html.j2")


def render_view_html(view: View) -> str:
    """The page of a built view."""
    return _template().render(view=view)


def render_html(data: ReportData) -> str:
    """The report of ``data`` as one HTML page (text, escaped; charts inline)."""
    return render_view_html(build_view(data))
