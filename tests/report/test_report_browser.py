"""The report in a real headless browser (Chromium from the system packages, driven by
Playwright): it draws something at a laptop's and a phone's width, logs no console error,
requests nothing but itself, and fits a phone's width."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from report_pages import Demo

from icpkit.report import NOTHING_HEADLINE
from small_crm import SmallCrm

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 390)
HEIGHT = 900


@dataclass
class Visit:
    """What a page did when opened at one width."""

    screenshot: bytes
    seconds: float
    scroll_width: int
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    headline_top: float | None = None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed: run scripts/system-deps.sh (make test does)")
    with sync_api.sync_playwright() as p:
        executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


def visit(browser: object, path: Path, width: int) -> Visit:
    """Open ``path`` at ``width`` pixels; every request other than the file itself is
    recorded and refused."""
    page = browser.new_page(viewport={"width": width, "height": HEIGHT})  # type: ignore[attr-defined]
    url = path.resolve().as_uri()
    requests: list[str] = []
    errors: list[str] = []

    def route(r: object) -> None:
        request = r.request  # type: ignore[attr-defined]
        if request.url == url:
            r.continue_()  # type: ignore[attr-defined]
        else:
            requests.append(request.url)
            r.abort()  # type: ignore[attr-defined]

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    seconds = time.perf_counter() - started
    headline = page.locator("#nothing")
    top = headline.bounding_box()["y"] if headline.count() else None
    shot = page.screenshot(full_page=False)
    visit = Visit(shot, seconds, page.evaluate("document.documentElement.scrollWidth"))
    visit.errors, visit.requests, visit.headline_top = errors, requests, top
    page.close()
    return visit


def spread(png: bytes) -> float:
    """Standard deviation of a screenshot's grey levels: 0 for a blank page."""
    from PIL import Image, ImageStat

    grey = Image.open(io.BytesIO(png)).convert("L")
    return float(ImageStat.Stat(grey).stddev[0])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_report_draws_at_laptop_and_phone_width_without_errors_or_requests(
    browser: object, demo: Demo, width: int
) -> None:
    seen = visit(browser, demo.html, width)
    assert seen.requests == []
    assert seen.errors == []
    assert spread(seen.screenshot) > 20, "the first screen is blank"
    assert seen.scroll_width <= width, "the page is wider than the screen"
    print(f"report rendered at {width}px in {seen.seconds * 1000:.0f} ms")


def test_a_request_from_the_page_would_be_caught(browser: object, tmp_path: Path) -> None:
    page = tmp_path / "fetches.html"
    page.write_text('<img src="https://example.com/x.png"><p>hello</p>', encoding="utf-8")
    assert visit(browser, page, 390).requests == ["https://example.com/x.png"]


def test_a_blank_page_would_be_caught(browser: object, tmp_path: Path) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    assert spread(visit(browser, page, 1280).screenshot) < 1


@pytest.mark.parametrize("width", WIDTHS)
def test_where_nothing_discriminates_the_first_screen_says_so(
    browser: object, flat: SmallCrm, tmp_path: Path, width: int
) -> None:
    path = flat.ws.report(tmp_path / "flat.html")
    assert NOTHING_HEADLINE in path.read_text(encoding="utf-8")
    seen = visit(browser, path, width)
    assert seen.headline_top is not None and seen.headline_top < HEIGHT
    assert seen.errors == [] and seen.requests == []


def test_printed_the_report_keeps_its_tables_and_leaves_out_the_charts(
    browser: object, demo: Demo
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": HEIGHT})  # type: ignore[attr-defined]
    page.emulate_media(media="print")
    page.goto(demo.html.resolve().as_uri(), wait_until="load")
    shown = page.evaluate(
        """() => {
            const seen = (css) => [...document.querySelectorAll(css)]
                .filter((e) => e.getClientRects().length).length;
            return {charts: seen('svg'), tables: seen('table'), nav: seen('nav')};
        }"""
    )
    page.close()
    assert shown["charts"] == 0 and shown["nav"] == 0
    assert shown["tables"] >= 10
