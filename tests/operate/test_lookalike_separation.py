"""Lookalikes are ranked only when the Tier 1 customers differ from the other accounts more
than a random choice of as many accounts would: a permutation test on the information value
of the attributes the lookalikes weigh."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from icpkit.operate.lookalike import SEPARATION_ALPHA, separation_p_value

N = 400


def accounts(seed: int = 0) -> pa.Table:
    """Accounts with sizes, industries, countries and stacks drawn at random."""
    rng = np.random.default_rng(seed)
    bands = rng.choice(["11-50", "51-200", "201-500"], N).tolist()
    tools = [sorted(set(rng.choice(["HubSpot", "Slack", "Jira"], 2).tolist())) for _ in range(N)]
    return pa.table(
        {
            "account_key": [f"a{i}.io" for i in range(N)],
            "employees": rng.integers(10, 500, N).astype(float),
            "revenue": np.full(N, np.nan),
            "industry": rng.choice(["Software", "Retail", "Banking", "Health"], N).tolist(),
            "country": rng.choice(["US", "GB"], N).tolist(),
            "funding_stage": pa.array([None] * N, pa.string()),
            "technologies": pa.array(tools, pa.list_(pa.string())),
            "employees_band": bands,
            "revenue_band": ["(missing)"] * N,
        }
    )


def test_tier1_customers_of_one_industry_separate_clearly() -> None:
    table = accounts()
    software = {
        k
        for k, industry in zip(
            table["account_key"].to_pylist(), table["industry"].to_pylist(), strict=True
        )
        if industry == "Software"
    }
    assert separation_p_value(table, software) <= 0.02


@pytest.mark.parametrize("seed", [1, 2])
def test_tier1_customers_chosen_at_random_do_not_separate(seed: int) -> None:
    table = accounts()
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(table["account_key"].to_pylist(), 60, replace=False).tolist())
    assert separation_p_value(table, chosen) > SEPARATION_ALPHA


def test_tier1_customers_with_a_telling_tool_separate() -> None:
    table = accounts()
    keys = table["account_key"].to_pylist()
    stacks = table["technologies"].to_pylist()
    stacks = [[*s, "Segment"] if i < 50 else s for i, s in enumerate(stacks)]
    table = table.set_column(
        table.schema.get_field_index("technologies"),
        "technologies",
        pa.array(stacks, pa.list_(pa.string())),
    )
    assert separation_p_value(table, set(keys[:50])) <= 0.02


def test_with_everyone_or_no_one_in_tier1_nothing_separates() -> None:
    table = accounts()
    assert separation_p_value(table, set()) == 1.0
    assert separation_p_value(table, set(table["account_key"].to_pylist())) == 1.0
