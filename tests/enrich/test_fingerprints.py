"""icpkit's own fingerprint file: its size, its names and categories, and every tool's
sample matched by that tool and by no other."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from icpkit.demo.truth import TOOLS as DEMO_TOOLS
from icpkit.enrich.dns import Records
from icpkit.enrich.site import Page
from icpkit.enrich.technographics import (
    BUILTIN,
    CATEGORIES,
    PATTERN_KINDS,
    Fingerprints,
    load_fingerprints,
)

RAW = yaml.safe_load(BUILTIN.read_text(encoding="utf-8"))
ENTRIES = RAW["tools"]
FP = load_fingerprints()

# The families of tools a go-to-market team asks about; each must have tools in the file.
REQUIRED_CATEGORIES = {
    "crm",
    "marketing automation",
    "sales engagement",
    "chat",
    "analytics",
    "cdp",
    "abm",
    "scheduling",
    "payments",
    "support",
    "data enrichment",
    "tag manager",
    "a/b testing",
    "cms",
    "ecommerce",
    "forms",
    "video",
    "reviews",
    "consent",
    "hosting",
    "cdn",
    "email",
    "identity",
    "error monitoring",
}

# Pairs whose samples legitimately fire both tools (none beyond what `implies` declares):
# each entry is (tool whose sample is matched, other tool also seen) with the reason.
CO_FIRING: dict[tuple[str, str], str] = {}


def sample_page(name: str) -> tuple[Page, Records]:
    example = FP.tools[name].example
    assert example is not None
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme</title></head>'
        f"<body><main><h1>Acme</h1><p>We help teams ship.</p></main>{example.snippet()}"
        "</body></html>"
    )
    page = Page(
        "home",
        "https://acme.example/",
        200,
        {"content-type": "text/html; charset=utf-8", **example.headers},
        example.cookies,
        html,
        dt.datetime(2026, 11, 30),
    )
    return page, example.records


def implied_closure(name: str) -> set[str]:
    seen: set[str] = set()
    queue = [name]
    while queue:
        for implied, _ in FP.tools[queue.pop()].implies:
            if implied not in seen:
                seen.add(implied)
                queue.append(implied)
    return seen


def test_file_has_at_least_160_tools_with_unique_names() -> None:
    names = [entry["name"] for entry in ENTRIES]
    assert len(names) >= 160
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == []
    assert len(FP) == len(names)


def test_file_loads_without_a_problem() -> None:
    assert FP.problems == ()
    assert isinstance(FP, Fingerprints)


def test_every_category_is_from_the_fixed_list_and_every_family_is_covered() -> None:
    used = {entry["category"] for entry in ENTRIES}
    assert used <= set(CATEGORIES), sorted(used - set(CATEGORIES))
    assert used >= REQUIRED_CATEGORIES, sorted(REQUIRED_CATEGORIES - used)


def test_demo_crm_tools_are_fingerprinted_under_their_exact_names() -> None:
    assert len(DEMO_TOOLS) == 12
    assert set(DEMO_TOOLS) <= set(FP.tools)


def test_every_tool_has_a_pattern_an_example_and_a_website() -> None:
    for entry in ENTRIES:
        kinds = [k for k in PATTERN_KINDS if entry.get(k)]
        assert kinds, entry["name"]
        assert entry.get("example"), entry["name"]
        assert str(entry.get("website", "")).startswith("https://"), entry["name"]


def test_header_and_meta_names_are_lower_case() -> None:
    for entry in ENTRIES:
        for kind in ("headers", "meta"):
            for key in entry.get(kind, {}):
                assert key == key.lower(), (entry["name"], kind, key)


def test_every_pattern_is_a_valid_python_regex() -> None:
    for entry in ENTRIES:
        for kind in PATTERN_KINDS:
            value = entry.get(kind) or []
            patterns = list(value.values()) if isinstance(value, dict) else value
            for pattern in patterns:
                re.compile(pattern.split("\\;")[0])


@pytest.mark.parametrize("name", sorted(FP.tools))
def test_example_is_matched_by_its_tool_and_no_other(name: str) -> None:
    page, records = sample_page(name)
    found = {d.tool: d for d in FP.match([page], records, domain="acme.example")}
    assert name in found, f"{name}'s example is not matched by its own patterns"
    allowed = implied_closure(name) | {other for (tool, other) in CO_FIRING if tool == name}
    assert set(found) - {name} - allowed == set()
    assert found[name].confidence > 0.5
    assert found[name].evidence


def test_a_bare_page_matches_nothing() -> None:
    page = Page(
        "home",
        "https://plain.example/",
        200,
        {"content-type": "text/html"},
        (),
        "<html><head><title>Plain</title></head><body><p>Hello, world.</p></body></html>",
        dt.datetime(2026, 11, 30),
    )
    assert FP.match([page]) == []
