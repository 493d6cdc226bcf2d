"""The demo universe: the CRM's companies plus new ones from the same world, in the scorer's
input layout, with the planted ICP kept in a file of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from icpkit.demo import Universe, make_universe
from icpkit.demo import truth as T
from icpkit.demo.universe import planted_icp

from .conftest import Loaded

N_EXTRA = 6_000


@pytest.fixture(scope="module")
def universe(small: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Universe:
    return make_universe(small.files, N_EXTRA, 5, tmp_path_factory.mktemp("universe"))


def test_every_crm_company_appears_once_keyed_by_domain(small: Loaded, universe: Universe) -> None:
    rows = pq.read_table(universe.path).to_pylist()
    keys = [r["account_key"] for r in rows]
    assert len(keys) == len(set(keys)) == universe.n_companies == small.files.n_companies + N_EXTRA
    crm = {r["domain"]: r for r in small.company_truth}
    assert keys[: universe.n_crm] == list(crm)
    first = rows[0]
    truth = crm[first["account_key"]]
    assert first["name"] == truth["name"] and first["employees"] == int(truth["employees"])
    assert first["technologies"] == [t for t in truth["tech"].split(";") if t]


def test_the_planted_truth_stays_out_of_the_scored_file(universe: Universe) -> None:
    columns = pq.read_schema(universe.path).names
    assert columns[0] == "account_key" and "is_icp" not in columns and "customer" not in columns
    assert pq.read_schema(universe.truth).names == ["account_key", "is_icp", "customer"]


def test_is_icp_follows_the_planted_definition(small: Loaded, universe: Universe) -> None:
    rows = pq.read_table(universe.path).to_pylist()
    truth = pq.read_table(universe.truth).to_pylist()
    assert [t["account_key"] for t in truth] == [r["account_key"] for r in rows]
    expected = [
        r["employees"] is not None
        and T.MID_MIN <= r["employees"] <= T.MID_MAX
        and r["industry"] == "Software"
        and "HubSpot" in r["technologies"]
        for r in rows
    ]
    assert [t["is_icp"] for t in truth] == expected
    assert sum(expected) == universe.n_icp
    crm = {r["domain"]: r for r in small.company_truth}
    for t in truth[: universe.n_crm]:
        assert t["is_icp"] == (crm[t["account_key"]]["is_icp"] == "1")
        assert t["customer"] == (crm[t["account_key"]]["customer"] == "1")
    assert not any(t["customer"] for t in truth[universe.n_crm :])


def test_planted_icp_reads_the_json_definition() -> None:
    definition = [
        {"attribute": "employees", "min": 51, "max": 200},
        {"attribute": "industry", "value": "Software"},
        {"attribute": "tech", "value": "HubSpot"},
    ]
    columns = {
        "employees": [100, 100, 300, 100],
        "industry": ["Software", "Software", "Software", "Retail Trade"],
        "tech": [["HubSpot"], ["Slack"], ["HubSpot"], ["HubSpot"]],
    }
    assert planted_icp(definition, columns).tolist() == [True, False, False, False]


def test_new_companies_come_from_the_generators_distributions(universe: Universe) -> None:
    new = pq.read_table(universe.path).slice(universe.n_crm).to_pylist()
    industries = [r["industry"] for r in new]
    for label, share in zip(T.INDUSTRIES, T.INDUSTRY_P, strict=True):
        assert industries.count(label) / len(new) == pytest.approx(share, abs=0.025)
    median = float(np.median([r["employees"] for r in new]))
    assert median == pytest.approx(T.EMP_MEDIAN, rel=0.25)
    hubspot = np.mean(["HubSpot" in r["technologies"] for r in new if r["industry"] == "Software"])
    assert hubspot == pytest.approx(T.HUBSPOT_P_SOFTWARE, abs=0.05)
    assert universe.icp_rate == pytest.approx(0.03, abs=0.01)


def test_the_same_arguments_write_the_same_files(
    small: Loaded, universe: Universe, tmp_path: Path
) -> None:
    again = make_universe(small.files, N_EXTRA, 5, tmp_path)
    assert again.path.read_bytes() == universe.path.read_bytes()
    other = make_universe(small.files, N_EXTRA, 6, tmp_path / "other")
    assert other.path.read_bytes() != universe.path.read_bytes()


def test_a_negative_number_of_new_companies_is_refused(small: Loaded, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_extra must be >= 0"):
        make_universe(small.files, -1, 5, tmp_path)
