"""Shared demo datasets: generated once per test session, read with the stdlib csv module."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import DemoCrm
from icpkit.demo import DemoFiles, make_crm
from once import once


@dataclass(frozen=True)
class Loaded:
    """A generated demo CRM with every file parsed into dicts."""

    files: DemoFiles
    truth: dict[str, Any]
    companies: list[dict[str, str]]
    deals: list[dict[str, str]]
    signals: list[dict[str, str]]
    deal_truth: list[dict[str, str]]
    company_truth: list[dict[str, str]]

    def quirk(self, name: str) -> int:
        """Count recorded in planted_truth.json for one quirk."""
        return int(next(q["count"] for q in self.truth["messy_quirks"] if q["name"] == name))


def read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    """All rows of a CSV file as dicts."""
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def load(files: DemoFiles) -> Loaded:
    """Parse every file of a generated demo CRM."""
    return Loaded(
        files=files,
        truth=json.loads(files.planted_truth.read_text(encoding="utf-8")),
        companies=read_csv(files.companies, "utf-8-sig"),
        deals=read_csv(files.deals),
        signals=read_csv(files.signals),
        deal_truth=read_csv(files.deal_truth),
        company_truth=read_csv(files.company_truth),
    )


@pytest.fixture(scope="session")
def small(demo_crm: DemoCrm) -> Loaded:
    """2,000 deals, seed 7: the size the planted effects are tuned to be detectable at."""
    return load(demo_crm(2_000, 7))


@pytest.fixture(scope="session")
def large(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """30,000 deals in three chunks, for tighter effect estimates (generated once per run)."""

    def generate(out: Path) -> DemoFiles:
        return make_crm(30_000, 11, out, chunk_size=10_000)

    return load(once(tmp_path_factory, "large", generate))
