"""Lookalikes: universe companies ranked by likeness to the Tier 1 customers, never a customer
or an excluded account, mostly planted-ICP companies, each naming its nearest Tier 1
customers and what it shares with them; the answer does not depend on the batch size."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from icpkit.attributes import MISSING
from icpkit.cli import operate
from icpkit.operate import lookalike
from icpkit.operate.lookalike import (
    Encoder,
    Lookalike,
    LookalikeError,
    shared_traits,
)

from .conftest import AS_OF, Demo

TOP, K = 100, 5


@pytest.fixture(scope="module")
def hits(demo: Demo) -> list[Lookalike]:
    return demo.ws.lookalikes(demo.universe.path, top=TOP, k=K)


@pytest.fixture(scope="module")
def tier1(demo: Demo) -> dict[str, dict[str, object]]:
    """The Tier 1 customers as the workspace holds them: key -> name, industry, stack."""
    keys = [k for k, t in demo.ws.tiers().tier_of().items() if t == 1]
    with demo.ws.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT account_key, name, industry, technologies FROM accounts "
            "WHERE list_contains(?, account_key)",
            [keys],
        ).fetchall()
    return {r[0]: {"name": r[1], "industry": r[2], "technologies": r[3] or []} for r in rows}


@pytest.mark.slow
def test_the_top_n_come_best_first(hits: list[Lookalike]) -> None:
    assert len(hits) == TOP
    scores = [h.similarity for h in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert len({h.account_key for h in hits}) == TOP


@pytest.mark.slow
def test_existing_customers_never_appear(demo: Demo, hits: list[Lookalike]) -> None:
    with demo.ws.connect(read_only=True) as con:
        rows = con.execute("SELECT account_key FROM deals WHERE outcome = 'won'").fetchall()
    won = {r[0] for r in rows if r[0] is not None}
    assert won and not won & {h.account_key for h in hits}
    truth = demo.truth()
    assert not any(truth[h.account_key]["customer"] for h in hits)


@pytest.mark.slow
def test_excluded_accounts_never_appear(demo: Demo, hits: list[Lookalike]) -> None:
    rows = demo.ws.score_file(demo.universe.path, as_of=AS_OF).rows()
    excluded = {r["account_key"] for r in rows if r["route"] == "never"}
    assert excluded and not excluded & {h.account_key for h in hits}


@pytest.mark.slow
def test_most_lookalikes_are_planted_icp_companies(demo: Demo, hits: list[Lookalike]) -> None:
    truth = demo.truth()
    precision = sum(truth[h.account_key]["is_icp"] for h in hits) / len(hits)
    base_rate = demo.universe.icp_rate
    print(f"precision@{TOP} {precision:.2f} against a base rate of {base_rate:.3f}")
    # Measured on this universe (CRM seed 3, universe seed 1): precision@100 = 0.64, while
    # is_icp is 2.9% of the universe (662 of 22,500); universe seeds 2 and 3 give 0.70 and
    # 0.73, and a 1,002,500-company universe 0.72. Tier 1 also holds large Software/HubSpot
    # customers (a big first deal earns the tier), so their lookalikes fill the rest. The
    # floor, 0.45, is 15x the base rate.
    assert base_rate < 0.05
    assert precision >= 0.45


@pytest.mark.slow
def test_explanations_name_real_tier1_customers_and_what_is_shared(
    demo: Demo, hits: list[Lookalike], tier1: dict[str, dict[str, object]]
) -> None:
    companies = demo.companies()
    for hit in hits:
        assert len(hit.neighbours) == K
        similarities = [n.similarity for n in hit.neighbours]
        assert similarities == sorted(similarities, reverse=True)
        assert hit.similarity == pytest.approx(np.mean(similarities), abs=1e-3)
        for n in hit.neighbours:
            assert n.account_key in tier1 and n.name == tier1[n.account_key]["name"]
        row = companies[hit.account_key]
        assert hit.name == row["name"]
        for trait in hit.shared:
            if trait.startswith("uses "):
                tool = trait.removeprefix("uses ")
                assert tool in row["technologies"]
                holders = [
                    n for n in hit.neighbours if tool in tier1[n.account_key]["technologies"]
                ]
                assert len(holders) >= K / 2
            elif trait == row["industry"]:
                same = [n for n in hit.neighbours if tier1[n.account_key]["industry"] == trait]
                assert len(same) >= K / 2
    best = hits[0]
    assert {"Software", "uses HubSpot"} <= set(best.shared)
    assert best.explain().startswith(", ".join(best.shared) + "; like ")
    assert all(n.name in best.explain() for n in best.neighbours if n.name)


@pytest.mark.slow
def test_the_answer_does_not_depend_on_the_batch_size(
    demo: Demo, hits: list[Lookalike], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookalike, "BATCH_ROWS", 997)
    again = demo.ws.lookalikes(demo.universe.path, top=TOP, k=K)
    assert [h.account_key for h in again] == [h.account_key for h in hits]


@pytest.mark.slow
def test_a_csv_universe_with_joined_tools_gives_the_same_lookalikes(
    demo: Demo, hits: list[Lookalike], tmp_path: Path
) -> None:
    csv = tmp_path / "universe.csv"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (array_to_string(technologies, '; ') AS technologies) "
        f"FROM read_parquet('{demo.universe.path}')) TO '{csv}' (HEADER)"
    )
    again = demo.ws.lookalikes(csv, top=10, k=K)
    assert again == hits[:10]


@pytest.mark.slow
def test_asking_for_no_lookalikes_is_an_error(demo: Demo) -> None:
    with pytest.raises(LookalikeError, match="at least 1"):
        demo.ws.lookalikes(demo.universe.path, top=0)


def _encoder() -> Encoder:
    return Encoder(
        weights={
            "employees": 1.0,
            "revenue": 0.0,
            "industry": 2.0,
            "country": 1.0,
            "funding_stage": 0.0,
            "tech:HubSpot": 0.5,
        },
        centre={"employees": 0.0, "revenue": 0.0},
        scale={"employees": 1.0, "revenue": 1.0},
        vocab={"industry": ["Retail Trade", "Software"], "country": ["US"], "funding_stage": []},
        tools=["HubSpot"],
        tool_share=np.array([0.3]),
    )


def test_the_squared_distance_is_the_weighted_count_of_differences() -> None:
    e = np.expm1(2.0)  # log1p(e) = 2: employees one standard deviation apart below
    cols = {
        "account_key": pa.array(["a", "b", "c", "d"]),
        "employees": np.array([e, e, np.expm1(3.0), np.nan]),
        "revenue": np.array([1.0, 1.0, 1.0, 1.0]),
        "industry": pa.array(["Software", "Retail Trade", "Software", None], pa.string()),
        "country": pa.array(["US", "US", "US", "US"], pa.string()),
        "funding_stage": pa.array([None] * 4, pa.string()),
        "technologies": pa.array(
            [["HubSpot"], [], ["HubSpot", "Jira"], None], pa.list_(pa.string())
        ),
    }
    x = _encoder().encode(cols).astype(float)

    def d2(i: int, j: int) -> float:
        return float(((x[i] - x[j]) ** 2).sum())

    assert d2(0, 1) == pytest.approx(2.0 + 0.5)  # industry and HubSpot differ
    assert d2(0, 2) == pytest.approx(1.0)  # one standard deviation of log employees
    # Unknown industry is half a difference; an unknown stack stands at the tools' shares.
    assert d2(0, 3) == pytest.approx(2.0**2 + 1.0 + 0.5 * 0.7**2)


def _brute_force(x: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Each row's k smallest squared distances to the reference, comparing it with every one."""
    d2 = ((x[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
    return np.sort(d2, axis=1)[:, :k]


def _accounts(n: int, seed: int, kinds: int | None = None) -> np.ndarray:
    """Vectors as encoded accounts look: two standardized numbers, one-hot categories, tools;
    with ``kinds``, only that many distinct vectors (a CRM that records little)."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, 2)) * [0.7, 0.6]
    onehot = np.eye(6)[rng.integers(0, 6, n)] * 0.3
    tools = (rng.random((n, 4)) < 0.3) * 0.1
    points = np.hstack([numbers, onehot, tools]).astype(np.float32)
    if kinds is not None:
        points = points[rng.integers(0, kinds, n)]
    return points


@pytest.mark.parametrize(("k", "kinds"), [(1, None), (3, None), (5, None), (5, 3), (7, 1), (4, 40)])
def test_the_nearest_customers_are_those_a_full_comparison_finds(k: int, kinds: int | None) -> None:
    reference = _accounts(250, k, kinds)
    x = np.vstack([_accounts(300, k + 1), reference[:50]])  # some rows repeat a customer
    distances, near = lookalike.Customers.of(reference).nearest(x, k)
    expected = _brute_force(x.astype(np.float64), reference.astype(np.float64), k)
    # Row i's answer is row i's, nearest first; the indices name k different customers at
    # those distances, so a vector many customers share counts once for each of them.
    np.testing.assert_allclose(distances**2, expected, rtol=0, atol=1e-12)
    assert (np.diff(distances, axis=1) >= 0).all()
    found = ((x[:, None, :].astype(np.float64) - reference[near].astype(np.float64)) ** 2).sum(2)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
    assert all(len(set(row)) == k for row in near.tolist())
    empty = lookalike.Customers.of(reference).nearest(x[:0], k)
    assert empty[0].shape == (0, k) and empty[1].shape == (0, k)


def test_levels_are_the_sorted_distinct_values_with_unknown_as_missing() -> None:
    values = pa.array(["b", None, "Ä", "a", "b", "B", "😀", "a b", None, "a"], pa.string())
    levels, index = lookalike._levels(values)
    expected = np.unique(
        np.array([MISSING if v is None else v for v in values.to_pylist()], dtype=str),
        return_inverse=True,
    )
    assert levels.to_pylist() == expected[0].tolist()
    assert index.tolist() == expected[1].ravel().tolist()
    _, numbers = lookalike._levels(pa.array([3, 1, None, 3], pa.int64()))
    assert numbers.tolist() == [2, 1, 0, 2]  # numbers as text; '(missing)' sorts first


def test_each_tool_of_a_stack_counts_once_and_unknown_stacks_are_told_apart() -> None:
    stacks = pa.array(
        [["Slack", "HubSpot", "Slack"], None, [], ["HubSpot", None], ["Zendesk"]],
        pa.list_(pa.string()),
    )
    tools, account, tool, unknown = lookalike._stack_pairs(stacks)
    assert tools.to_pylist() == ["HubSpot", "Slack", "Zendesk"]
    pairs = sorted(zip(account.tolist(), [tools[t].as_py() for t in tool], strict=True))
    assert pairs == [(0, "HubSpot"), (0, "Slack"), (3, "HubSpot"), (4, "Zendesk")]
    assert unknown.tolist() == [False, True, False, False, False]
    nothing = lookalike._stack_pairs(pa.array([None, []], pa.list_(pa.string())))
    assert len(nothing[0]) == 0 and nothing[3].tolist() == [True, False]


def test_shared_traits_are_those_most_neighbours_hold_too() -> None:
    row = {"industry": "Software", "employees_band": "51-200", "country": "US",
           "technologies": ["HubSpot", "Slack"]}  # fmt: skip
    neighbours = [
        {"industry": "Software", "employees_band": "51-200", "country": "DE",
         "technologies": ["HubSpot"]},
        {"industry": "Software", "employees_band": "201-500", "country": "DE",
         "technologies": ["HubSpot", "Slack"]},
        {"industry": "Retail Trade", "employees_band": "51-200", "country": "US",
         "technologies": ["Slack"]},
    ]  # fmt: skip
    weights = {"industry": 0.2, "employees": 0.6, "country": 0.05, "tech:HubSpot": 0.1,
               "tech:Slack": 0.001}  # fmt: skip
    named = {"industry", "employees", "country", "tech:HubSpot"}
    assert shared_traits(row, neighbours, named, weights) == (
        "51-200 employees",
        "Software",
        "uses HubSpot",
    )


@pytest.mark.slow
def test_the_lookalike_command_lists_the_companies_with_their_reasons(
    demo: Demo, tmp_path: Path
) -> None:
    app = typer.Typer()
    app.command()(operate.tam)
    app.command()(operate.lookalike)
    out = tmp_path / "lookalikes.json"
    result = CliRunner().invoke(
        app,
        ["lookalike", str(demo.universe.path), "-w", str(demo.ws.root), "--top", "3",
         "--format", "json", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert "Software" in rows[0]["shared"] and rows[0]["like"].count("(") == 5
