"""Report benchmark: the demo's ICP report, its size, the time to build it and the time a
headless Chromium takes to open it.

Builds the workspace ``icp demo`` builds (5,000 deals, seed 7, a universe of 20,000 more
companies), runs the backtest once, writes the report with it as ``icp demo`` does (TAM with
the what-if employees=20-500 as of the export day, lookalikes), then opens the page in
Chromium (system package, driven by Playwright) at 1280 and 390 pixels, several times each,
every request refused but the file's.

Usage: ``python bench/report.py [--rows 5000] [--loads 6] [--out /tmp/icpkit-report-bench]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build(root: Path, rows: int) -> tuple[Path, float]:
    """The demo workspace and its report; returns the report and the seconds writing it took."""
    from icpkit.demo import make_crm, make_universe
    from icpkit.workspace import Workspace

    files = make_crm(rows, 7, root / "data")
    ws = Workspace.init(root / "workspace", name="icpkit demo")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    backtest = ws.backtest(reference=files.win_probabilities())
    universe = make_universe(files, 20_000, 7, root / "data" / "universe").path
    started = time.perf_counter()
    path = ws.report(
        root / "icp-report.html",
        universe=universe,
        widen={"employees": (20.0, 500.0)},
        as_of=dt.date(2025, 10, 1),
        backtest=backtest,
    )
    return path, time.perf_counter() - started


def open_times(path: Path, loads: int) -> dict[int, list[float]]:
    """Seconds from navigation to the load event, per width, ``loads`` times each."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    out: dict[int, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for width in (1280, 390):
            out[width] = []
            for _ in range(loads):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
                started = time.perf_counter()
                page.goto(url, wait_until="load")
                out[width].append(time.perf_counter() - started)
                page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--loads", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("/tmp/icpkit-report-bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path, seconds = build(args.out, args.rows)
    size = path.stat().st_size
    print(f"report: {path} ({size:,} bytes, {size / 1024:.0f} KiB), written in {seconds:.1f} s")
    for width, times in open_times(path, args.loads).items():
        ms = sorted(t * 1000 for t in times)
        print(
            f"{width} px: load event after {statistics.median(ms):.0f} ms median, "
            f"{ms[0]:.0f}-{ms[-1]:.0f} ms over {len(ms)} loads"
        )


if __name__ == "__main__":
    main()
