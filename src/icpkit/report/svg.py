"""Charts drawn as inline SVG from numbers already computed: no script, no request, no browser
needed to build them. Each chart is a picture of a table the page shows beside it; values that
cannot be computed are left out of the picture (the table says why)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from icpkit.report.numbers import finite

WIDTH = 640
FONT = 12
LOG_MIN, LOG_MAX = 0.1, 10.0
PALETTE = ("#1f5fa8", "#c2571a", "#3a8a3a", "#8a3a8a", "#6b6b6b", "#b8860b", "#17a2b8")


@dataclass(frozen=True)
class Point:
    """One row of an interval chart: a label, a value with its interval, and a mark."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    marked: bool = False


@dataclass(frozen=True)
class Series:
    """A line (or points) of an x-y chart, with optional vertical intervals per point."""

    name: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None
    points: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart: a label, a value and the text written at its end."""

    label: str
    value: float
    shown: str
    level: int = 0


@dataclass
class _Svg:
    height: float
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x: float, y: float, content: str, anchor: str = "start", **style: str) -> None:
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
        self.add(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(content)}</text>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, **style: str) -> None:
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
        self.add(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}"{extra}/>'
        )

    def render(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {self.height:.0f}" '
            f'role="img" aria-label="{escape(self.title)}" font-size="{FONT}" '
            'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">'
            f"<title>{escape(self.title)}</title>" + "".join(self.parts) + "</svg>"
        )


def _ticks(low: float, high: float, log: bool) -> list[float]:
    """A few round tick values between ``low`` and ``high``."""
    if log:
        candidates = [0.1, 0.25, 0.5, 1, 2, 4, 10]
        return [t for t in candidates if low <= t <= high] or [low, high]
    span = high - low
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1.0
    if span / step < 3:
        step /= 2
    if span / step > 6:
        step *= 2
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def interval_chart(
    rows: list[Point], *, title: str, axis: str, reference: float | None, log: bool = False
) -> str:
    """One row per label: the value as a dot, its interval as a line, marked rows filled;
    ``reference`` (1x for a lift, the base rate) as a vertical rule."""
    shown = [r for r in rows if finite(r.value) and (not log or r.value > 0)]
    label_w, right, top, row_h = 230.0, 20.0, 24.0, 20.0
    height = top + row_h * max(len(shown), 1) + 40
    svg = _Svg(height, title)
    values: list[float] = []
    for r in shown:
        values.append(r.value)
        for v in (r.low, r.high):
            if v is not None and finite(v) and (not log or v > 0):
                values.append(v)
    if reference is not None:
        values.append(reference)
    if not values:
        svg.text(WIDTH / 2, top + 10, "nothing to draw", "middle")
        return svg.render()
    lo, hi = min(values), max(values)
    if log:  # a lift's interval can reach 0 or 100x on a thin cut: the axis stops at 10x
        lo, hi = max(min(lo, 0.9) * 0.9, LOG_MIN), min(max(hi, 1.1) * 1.1, LOG_MAX)
    else:
        pad = (hi - lo) * 0.05 or 0.05
        lo, hi = max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad
    f = math.log if log else (lambda v: v)
    x0, x1 = label_w, WIDTH - right

    def x(v: float) -> float:
        return x0 + (f(v) - f(lo)) / (f(hi) - f(lo)) * (x1 - x0)

    bottom = top + row_h * len(shown)
    last = -math.inf
    for tick in _ticks(lo, hi, log):
        if x(tick) - last < 32:  # labels closer than this would overlap
            continue
        last = x(tick)
        svg.line(x(tick), top - 4, x(tick), bottom, "#ddd")
        svg.text(x(tick), bottom + 16, f"{tick:g}{'x' if log else ''}", "middle", fill="#555")
    svg.text((x0 + x1) / 2, bottom + 32, axis, "middle", fill="#333")
    if reference is not None:
        svg.line(x(reference), top - 8, x(reference), bottom, "#333", stroke_dasharray="4 3")
    for i, r in enumerate(shown):
        y = top + row_h * i + row_h / 2
        label = r.label if len(r.label) <= 34 else r.label[:33] + "…"
        svg.text(x0 - 8, y + 4, label, "end", fill="#222")
        if finite(r.low) and finite(r.high) and (not log or (r.low or 0) > 0):
            assert r.low is not None and r.high is not None
            svg.line(x(max(r.low, lo)), y, x(min(r.high, hi)), y, PALETTE[0], stroke_width="2")
        fill = PALETTE[0] if r.marked else "#fff"
        svg.add(
            f'<circle cx="{x(min(max(r.value, lo), hi)):.1f}" cy="{y:.1f}" r="4.5" fill="{fill}" '
            f'stroke="{PALETTE[0]}" stroke-width="2"/>'
        )
    return svg.render()


def xy_chart(
    series: list[Series],
    *,
    title: str,
    x_axis: str,
    y_axis: str,
    diagonal: bool = True,
    x_max: float = 1.0,
    y_max: float = 1.0,
    diagonal_label: str = "chance",
) -> str:
    """Lines (or points with intervals) on a plot from 0 to ``x_max``/``y_max``, with the
    chance diagonal and a legend below it (two columns, so long model names fit)."""
    left, top, bottom_pad = 56.0, 16.0, 44.0
    plot = 300.0
    entries = len(series) + (1 if diagonal else 0)
    legend_rows = (entries + 1) // 2
    svg = _Svg(top + plot + bottom_pad + 18 * legend_rows + 8, title)
    x0, x1, y0, y1 = left, WIDTH - 24.0, top + plot, top

    def x(v: float) -> float:
        return x0 + v / x_max * (x1 - x0)

    def y(v: float) -> float:
        return y0 - v / y_max * (y0 - y1)

    def legend(i: int) -> tuple[float, float]:
        """Where legend entry ``i`` goes: two columns under the axis label."""
        return x0 + (i % 2) * (x1 - x0) / 2, y0 + bottom_pad + 14 + 18 * (i // 2)

    for tick in _ticks(0, x_max, False):
        svg.line(x(tick), y0, x(tick), y1, "#eee")
        svg.text(x(tick), y0 + 16, f"{tick:g}", "middle", fill="#555")
    for tick in _ticks(0, y_max, False):
        svg.line(x0, y(tick), x1, y(tick), "#eee")
        svg.text(x0 - 6, y(tick) + 4, f"{tick:g}", "end", fill="#555")
    svg.line(x0, y0, x1, y0, "#333")
    svg.line(x0, y0, x0, y1, "#333")
    svg.text((x0 + x1) / 2, y0 + 34, x_axis, "middle", fill="#333")
    svg.text(
        14,
        (y0 + y1) / 2,
        y_axis,
        "middle",
        fill="#333",
        transform=f"rotate(-90 14 {(y0 + y1) / 2:.1f})",
    )
    if diagonal:
        svg.line(
            x(0), y(0), x(min(x_max, y_max)), y(min(x_max, y_max)), "#888", stroke_dasharray="4 3"
        )
    # Drawn last to first, so the first series (the scorecard) lies on top of the others.
    for i, s in reversed(list(enumerate(series))):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(a, b) for a, b in zip(s.x, s.y, strict=True) if finite(a) and finite(b)]
        if s.points:
            for j, (a, b) in enumerate(zip(s.x, s.y, strict=True)):
                if not (finite(a) and finite(b)):
                    continue
                if (
                    s.low is not None
                    and s.high is not None
                    and finite(s.low[j])
                    and finite(s.high[j])
                ):
                    svg.line(x(a), y(s.low[j]), x(a), y(s.high[j]), colour, stroke_width="1.5")
                svg.add(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="4" fill="{colour}"/>')
        elif pts:
            path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in pts)
            dash = ' stroke-dasharray="6 3"' if s.dashed else ""
            svg.add(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        lx, ly = legend(i)
        legend_dash = {"stroke_dasharray": "6 3"} if s.dashed else {}
        svg.line(lx, ly - 4, lx + 20, ly - 4, colour, stroke_width="3", **legend_dash)
        svg.text(lx + 26, ly, s.name, fill="#222")
    if diagonal:
        lx, ly = legend(len(series))
        svg.line(lx, ly - 4, lx + 20, ly - 4, "#888", stroke_dasharray="4 3")
        svg.text(lx + 26, ly, diagonal_label, fill="#222")
    return svg.render()


def bar_chart(bars: list[Bar], *, title: str, scale: float | None = None) -> str:
    """Horizontal bars, each as long as its value against ``scale`` (default: the longest),
    indented by level."""
    label_w, right, top, row_h = 200.0, 110.0, 8.0, 24.0
    shown = [b for b in bars if finite(b.value) and b.value >= 0]
    svg = _Svg(top + row_h * max(len(shown), 1) + 8, title)
    biggest = scale or max((b.value for b in shown), default=0.0) or 1.0
    for i, b in enumerate(shown):
        y = top + row_h * i
        svg.text(label_w - 8, y + 16, ("  " * b.level) + b.label, "end", fill="#222")
        width = b.value / biggest * (WIDTH - label_w - right)
        colour = PALETTE[min(b.level, len(PALETTE) - 1)]
        svg.add(
            f'<rect x="{label_w:.1f}" y="{y + 3:.1f}" width="{max(width, 1):.1f}" '
            f'height="{row_h - 6:.1f}" fill="{colour}"/>'
        )
        svg.text(label_w + max(width, 1) + 6, y + 16, b.shown, fill="#222")
    return svg.render()
