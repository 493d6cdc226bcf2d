"""Fixtures of the scoring tests: the edge-case scorecard and accounts (see edge_cases)."""

from __future__ import annotations

import pytest
from edge_cases import Case, edge_icp, edge_rows, edge_settings


@pytest.fixture(scope="session")
def edge_case() -> Case:
    accounts, signals, contacts = edge_rows()
    return Case(edge_icp(), edge_settings(), accounts, signals, contacts)
