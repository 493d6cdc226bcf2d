"""Candidate ICPs from won customers: Gower distance, the number of groups, their traits."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import fisher_exact
from sklearn.metrics import adjusted_rand_score

from icpkit.analysis.clusters import (
    MIN_SILHOUETTE,
    OWN_ICP_ACCOUNTS,
    Customers,
    Outcomes,
    cluster_customers,
    gower,
    group,
)
from icpkit.demo import make_crm
from icpkit.workspace import Workspace

LINE_2 = "Compliance Pipeline"

NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def customers(
    employees: Sequence[float],
    industry: Sequence[str | None],
    tech: Sequence[frozenset[str] | None],
) -> Customers:
    return Customers(
        [f"a{i}" for i in range(len(employees))],
        {"employees": np.array(employees, dtype=float)},
        {"industry": list(industry)},
        {"tech": list(tech)},
    )


def outcomes(n: int, deals: int = 2, wins: int = 1, acv: float = 10_000.0) -> Outcomes:
    return Outcomes(
        np.full(n, deals, dtype=np.int64),
        np.full(n, wins, dtype=np.int64),
        [[acv] * wins for _ in range(n)],
        np.zeros(n, dtype=bool),
    )


def two_markets(n: int, rng: np.random.Generator) -> Customers:
    """Half small software firms on HubSpot, half large banks on Zendesk."""
    half = n // 2
    emp = [*rng.normal(2.0, 0.1, half), *rng.normal(3.5, 0.1, n - half)]
    industry = ["Software"] * half + ["Financial Services"] * (n - half)
    tech = [frozenset({"HubSpot", "Slack"})] * half + [frozenset({"Zendesk", "Jira"})] * (n - half)
    return customers(emp, industry, tech)


def noise(n: int, rng: np.random.Generator) -> Customers:
    """Customers whose attributes are independent draws: no group structure."""
    industries = ["Software", "Retail Trade", "Financial Services", "Health Care", "Education"]
    tools = ["HubSpot", "Slack", "Zendesk", "Jira", "Stripe", "Zoom"]
    return customers(
        list(rng.normal(2.3, 0.8, n)),
        [industries[i] for i in rng.integers(0, len(industries), n)],
        [frozenset(t for t in tools if rng.random() < 0.4) or None for _ in range(n)],
    )


# ---- Gower distance ---------------------------------------------------------------------------


def test_gower_averages_range_scaled_numbers_category_equality_and_jaccard_of_tools() -> None:
    c = customers(
        [1.0, 2.0, 3.0],
        ["Software", "Retail Trade", "Software"],
        [frozenset({"A"}), frozenset({"A", "B"}), frozenset({"C"})],
    )
    d = gower(c)
    # a0-a1: |1-2|/2 = 0.5, industries differ = 1, Jaccard {A} vs {A,B} = 1/2 -> 2/3
    assert d[0, 1] == pytest.approx((0.5 + 1 + 0.5) / 3)
    # a0-a2: 1, same industry 0, disjoint tools 1 -> 2/3
    assert d[0, 2] == pytest.approx((1 + 0 + 1) / 3)
    assert np.allclose(d, d.T)
    assert np.allclose(np.diag(d), 0.0)


def test_gower_leaves_out_an_attribute_unknown_on_either_side() -> None:
    c = customers([1.0, math.nan, 3.0], ["Software", None, "Software"], [None, None, None])
    d = gower(c)
    # a0-a1: nothing known on both sides -> the largest distance, 1
    assert d[0, 1] == 1.0
    # a0-a2: only head count and industry count: (1 + 0) / 2
    assert d[0, 2] == pytest.approx(0.5)


# ---- the number of groups ---------------------------------------------------------------------


def test_two_distinct_markets_are_two_groups_exactly() -> None:
    c = two_markets(200, np.random.default_rng(1))
    g = group(c)
    assert g.k == 2
    truth = [0] * 100 + [1] * 100
    assert adjusted_rand_score(truth, g.labels) == 1.0
    assert g.silhouette is not None and g.silhouette >= MIN_SILHOUETTE


@pytest.mark.parametrize("seed", range(5))
def test_customers_without_structure_are_one_group(seed: int) -> None:
    g = group(noise(400, np.random.default_rng(seed)))
    assert g.k == 1
    assert (g.labels == 0).all()
    assert "silhouette" in g.reason or "useful size" in g.reason


@pytest.mark.parametrize("n", [0, 1, 5, 19])
def test_too_few_customers_are_one_group_and_say_so(n: int) -> None:
    rng = np.random.default_rng(0)
    g = group(two_markets(n, rng) if n else customers([], [], []))
    assert g.k == 1
    assert "too few" in g.reason


def test_a_tiny_outlier_group_is_not_a_group_of_its_own() -> None:
    # 195 identical customers and 5 far away: a split would leave a group under 5%.
    emp = [2.0] * 195 + [4.5] * 5
    c = customers(emp, ["Software"] * 195 + ["Education"] * 5, [frozenset({"A"})] * 200)
    assert group(c).k == 1


# ---- traits and the per-group report -----------------------------------------------------------


def test_each_group_is_described_by_the_values_it_holds_more_often() -> None:
    c = two_markets(200, np.random.default_rng(2))
    result = cluster_customers(c, outcomes(200))
    first, second = result.clusters
    traits = {cl.number: {(t.attribute, t.value) for t in cl.traits} for cl in result.clusters}
    banks = next(n for n, ts in traits.items() if ("industry", "Financial Services") in ts)
    software = 3 - banks
    assert ("tech", "Zendesk") in traits[banks]
    assert ("industry", "Software") not in traits[banks]
    assert {("industry", "Software"), ("tech", "HubSpot")} <= traits[software]
    for cl in (first, second):
        for t in cl.traits:
            assert t.share > t.rest_share
            assert t.share_low <= t.share <= t.share_high
            assert t.q_value <= 0.05
        assert cl.own_icp, cl.own_icp_reason


def test_a_significant_but_slight_difference_is_not_a_trait() -> None:
    # Google Analytics on 78% of one market and 72% of the other: Fisher's test finds the
    # difference at 1,000 customers each, but 6 points do not define a group.
    rng = np.random.default_rng(8)
    c = two_markets(2000, rng)
    ga = [*(np.arange(1000) < 780), *(np.arange(1000) < 720)]
    tech: list[frozenset[str] | None] = [
        (s or frozenset()) | {"Google Analytics"} if g else s
        for s, g in zip(c.sets["tech"], ga, strict=True)
    ]
    c = Customers(c.keys, c.numbers, c.categories, {"tech": tech})
    _, p = fisher_exact([[780, 220], [720, 280]], alternative="greater")
    assert p < 0.01
    result = cluster_customers(c, outcomes(2000))
    assert result.grouping.k == 2
    named = {(t.attribute, t.value) for cl in result.clusters for t in cl.traits}
    assert ("tech", "Google Analytics") not in named
    assert ("tech", "Zendesk") in named


def test_win_rate_counts_the_lost_deals_of_lookalike_accounts_that_never_bought() -> None:
    rng = np.random.default_rng(3)
    won = two_markets(200, rng)
    # 100 more accounts that never bought, all alike the banks: their 3 lost deals each
    # count against the banks' group only.
    lost = customers(
        list(rng.normal(3.5, 0.1, 100)),
        ["Financial Services"] * 100,
        [frozenset({"Zendesk", "Jira"})] * 100,
    )
    everyone = Customers(
        won.keys + [f"b{i}" for i in range(100)],
        {"employees": np.concatenate([won.numbers["employees"], lost.numbers["employees"]])},
        {"industry": won.categories["industry"] + lost.categories["industry"]},
        {"tech": won.sets["tech"] + lost.sets["tech"]},
    )
    out = Outcomes(
        np.array([2] * 200 + [3] * 100, dtype=np.int64),
        np.array([1] * 200 + [0] * 100, dtype=np.int64),
        [[10_000.0]] * 200 + [[]] * 100,
        np.zeros(300, dtype=bool),
    )
    result = cluster_customers(everyone, out)
    traits = {c.number: {t.value for t in c.traits} for c in result.clusters}
    banks = next(c for c in result.clusters if "Financial Services" in traits[c.number])
    software = next(c for c in result.clusters if c is not banks)
    assert (banks.lookalikes, software.lookalikes) == (200, 100)
    assert banks.win_rate.value == pytest.approx(100 / (200 + 300))
    assert software.win_rate.value == pytest.approx(0.5)
    assert banks.accounts == software.accounts == 100
    assert banks.win_rate.n == 500


def test_median_acv_and_churn_are_those_of_the_groups_customers() -> None:
    c = two_markets(200, np.random.default_rng(4))
    o = outcomes(200)
    acvs = [[1_000.0]] * 100 + [[50_000.0]] * 100
    churned = np.array([True] * 20 + [False] * 180)
    result = cluster_customers(c, Outcomes(o.deals, o.wins, acvs, churned))
    by_size = {c.median_acv.value: c for c in result.clusters}
    assert set(by_size) == {1_000.0, 50_000.0}
    assert by_size[1_000.0].churn_rate.value == pytest.approx(0.2)
    assert by_size[50_000.0].churn_rate.value == 0.0


def test_a_small_group_does_not_deserve_an_icp_of_its_own() -> None:
    # Two clean groups of 40 and 25 customers: 25 is under the accounts an ICP needs.
    rng = np.random.default_rng(5)
    c = two_markets(80, rng).take(np.array([*range(40), *range(40, 65)]))
    result = cluster_customers(c, outcomes(65))
    assert result.grouping.k == 2
    small = min(result.clusters, key=lambda cl: cl.accounts)
    assert small.accounts < OWN_ICP_ACCOUNTS
    assert not small.own_icp
    assert str(OWN_ICP_ACCOUNTS) in small.own_icp_reason


@pytest.mark.parametrize("n", [0, 1, 3, 30])
def test_small_or_empty_inputs_never_crash_and_never_print_nan(n: int) -> None:
    c = noise(n, np.random.default_rng(6)) if n else customers([], [], [])
    result = cluster_customers(c, outcomes(n, deals=1, wins=1))
    text = " ".join(result.sentences())
    assert not NAN.search(text)
    if n == 0:
        assert "No won customers" in text
    else:
        assert "one group" in text


def test_accounts_without_a_won_deal_are_not_customers() -> None:
    c = noise(50, np.random.default_rng(7))
    o = outcomes(50, deals=2, wins=0)
    result = cluster_customers(c, o)
    assert result.customers == 0
    assert result.clusters == []


# ---- the planted product lines -------------------------------------------------------------------


def _grouped(root: Path, seed: int, lines: int) -> tuple[list[str], list[int], int]:
    """Pipelines and groups of the won customers of a 3,000-deal demo CRM."""
    files = make_crm(3000, seed, root / "crm", product_lines=lines)
    ws = Workspace.init(root / "ws")
    assert ws.ingest(files.exports()).ok
    result = ws.clusters()
    with ws.connect(read_only=True) as con:
        pipeline = dict(
            con.execute(
                "SELECT account_key, max(pipeline) FROM deals "
                "WHERE account_key IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
    keys = [k for c in result.clusters for k in c.keys]
    groups = [c.number for c in result.clusters for _ in c.keys]
    return [pipeline[k] for k in keys], groups, result.grouping.k


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_clustering_separates_the_two_planted_product_lines(tmp_path: Path, seed: int) -> None:
    lines, groups, k = _grouped(tmp_path, seed, 2)
    assert k == 2
    # Some of line 2's customers are outside Financial Services (12% of its market) or
    # outside its 501-1000 band, and some line-1 customers are mid-sized banks: on head
    # count, industry and stack those look like the other line, so even a perfect grouping
    # by those attributes misplaces about a tenth of each line. That caps the adjusted Rand
    # index near 0.7 (measured 0.64-0.71 over seeds 11-18); chance is 0.
    assert adjusted_rand_score(lines, groups) >= 0.45
    count = Counter(zip(groups, lines, strict=True))
    second = max((1, 2), key=lambda g: count[(g, LINE_2)])
    in_group = count[(second, LINE_2)] + count[(second, "Sales Pipeline")]
    line_2 = sum(1 for p in lines if p == LINE_2)
    assert count[(second, LINE_2)] / in_group >= 0.85  # measured 0.86-0.91
    assert count[(second, LINE_2)] / line_2 >= 0.80  # measured 0.91-0.94


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_a_single_product_line_is_one_group(tmp_path: Path, seed: int) -> None:
    _, groups, k = _grouped(tmp_path, seed, 1)
    assert k == 1
    assert set(groups) == {1}
