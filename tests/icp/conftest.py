"""A sample ICP with every kind of rule, for the ICP model and lifecycle tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from icpkit.icp.model import ICP, Criterion, Evidence, Exclusion, IntentSignal


def evidence(lift: float = 2.1, q_value: float = 0.002, n_closed: int = 120) -> Evidence:
    """Evidence of a cut that wins ``lift`` times as often as the base rate."""
    return Evidence(
        n_closed=n_closed,
        wins=48,
        win_rate=0.4,
        win_rate_ci=(0.31, 0.49),
        base_rate=0.19,
        lift=lift,
        lift_ci=(1.6, 2.7),
        q_value=q_value,
        woe=0.95,
        iv=0.31,
        share_won=0.42,
        share_lost=0.18,
        n_accounts=97,
        test="fisher",
    )


def build_icp(**overrides: object) -> ICP:
    """An ICP with boundary, fit, intent and exclusions; keyword arguments replace fields."""
    fields: dict[str, object] = {
        "derived_at": datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        "data_fingerprint": "sha256:4f2a",
        "method": {"alpha": 0.05, "min_closed_deals": 30},
        "boundary": [
            Criterion(
                id="country-served",
                attribute="country",
                values=["NO", "SE", "DK"],
                source="derived",
                rationale="countries with won deals",
            )
        ],
        "fit": [
            Criterion(
                id="employees-51-200",
                attribute="employees",
                min=51,
                max=200,
                evidence=evidence(),
                rationale="51-200 employees win 2.1x as often",
                source="derived",
            ),
            Criterion(
                id="industry-software",
                attribute="industry",
                values=["Software"],
                evidence=evidence(lift=1.8),
                rationale="software wins 1.8x as often",
                source="derived",
            ),
        ],
        "intent": [
            IntentSignal(
                id="funding-round-series-a",
                signal="funding_round",
                detail_in=["Series A", "Series B"],
                window_days=(0, 90),
                evidence=evidence(lift=3.0),
                source="derived",
            )
        ],
        "exclusions": [
            Exclusion(
                id="industry-retail",
                attribute="industry",
                values=["Retail"],
                kind="disqualifier",
                evidence=evidence(lift=0.3),
                source="derived",
            )
        ],
        "notes": ["Most deals are in 11-50 employees, but 51-200 wins more."],
    }
    fields.update(overrides)
    return ICP.model_validate(fields)


@pytest.fixture
def sample_icp() -> ICP:
    return build_icp()


@pytest.fixture
def make_icp() -> Callable[..., ICP]:
    return build_icp


@pytest.fixture
def make_evidence() -> Callable[..., Evidence]:
    return evidence
