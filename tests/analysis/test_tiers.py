"""Customer tiers: Tier 1 are the customers to find more of, churned ones are Tier 3."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers import DemoWorkspaces
from icpkit.config import TierSettings
from icpkit.workspace import Workspace


@pytest.fixture(scope="module")
def demo_ws(demo_workspace: DemoWorkspaces) -> tuple[Workspace, Path]:
    demo = demo_workspace(4_000, 5)
    return demo.ws, demo.files.company_truth


@pytest.mark.slow
def test_tiers_recover_the_planted_tier_1_customers(demo_ws) -> None:
    ws, truth_path = demo_ws
    with truth_path.open(newline="") as fh:
        truth = {r["domain"]: int(r["tier"]) for r in csv.DictReader(fh) if r["tier"]}
    tiers = ws.tiers().tier_of()
    shared = [k for k in tiers if k in truth]
    assert len(shared) > 0.9 * len(truth)
    true_tier1 = [k for k in shared if truth[k] == 1]
    recall = sum(tiers[k] == 1 for k in true_tier1) / len(true_tier1)
    agreement = sum(tiers[k] == truth[k] for k in shared) / len(shared)
    assert recall > 0.9
    assert agreement > 0.75


@pytest.mark.slow
def test_every_churned_customer_is_tier_3(demo_ws, query) -> None:
    ws, _ = demo_ws
    churned = {k for (k,) in query(ws, "SELECT account_key FROM accounts WHERE churned")}
    result = ws.tiers()
    assert churned
    assert {c.account_key for c in result.customers if c.tier == 3} == churned & {
        c.account_key for c in result.customers
    }


@pytest.mark.slow
def test_thresholds_default_to_the_medians_and_can_be_set(demo_ws) -> None:
    ws, _ = demo_ws
    default = ws.tiers()
    assert default.acv_threshold is not None and default.acv_threshold > 0
    ws.settings.tiers = TierSettings(acv_threshold=1e12, cycle_days_threshold=0)
    strict = ws.tiers()
    ws.settings.tiers = TierSettings()
    # With ACV and speed out of reach, only expansion earns a point: nobody reaches two.
    assert strict.counts()[1] == 0
    assert default.counts()[1] > 0


@pytest.mark.slow
def test_lift_reports_the_tier_1_share_of_each_values_customers(demo_ws, query) -> None:
    ws, _ = demo_ws
    tier_of = ws.tiers().tier_of()
    in_bucket = {
        k
        for (k,) in query(ws, "SELECT account_key FROM accounts WHERE employees BETWEEN 51 AND 200")
    }
    customers = [k for k in tier_of if k in in_bucket]
    expected = sum(tier_of[k] == 1 for k in customers) / len(customers)
    row = next(r for r in ws.lift().rows if r.attribute == "employees" and r.value == "51-200")
    assert row.tier1_rate == pytest.approx(expected)
    assert row.tier1_q_value is not None


def test_nps_and_usage_earn_points_when_the_export_has_them(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Record ID,Company name,Company Domain Name,NPS,Product Usage\n"
        "1,Fan,fan.io,10,900\n2,Critic,critic.io,3,10\n3,Quiet,quiet.io,,\n"
    )
    deals = tmp_path / "deals.csv"
    deals.write_text(
        "Record ID,Deal Stage,Amount,Create Date,Close Date,Associated Company IDs\n"
        "11,Closed Won,100,2024-01-01,2024-06-01,1\n"
        "12,Closed Won,100,2024-01-01,2024-06-01,2\n"
        "13,Closed Won,100,2024-01-01,2024-06-01,3\n"
    )
    assert ws.ingest([companies, deals]).ok
    ws.settings.tiers = TierSettings(acv_threshold=1e9, cycle_days_threshold=1)
    result = ws.tiers()
    points = {c.account_key: c.points for c in result.customers}
    # The promoter with heavy usage reaches two points; the detractor and the unknown do not.
    assert points == {"fan.io": 2.0, "critic.io": 0.0, "quiet.io": 0.0}
    assert result.tier_of() == {"fan.io": 1, "critic.io": 2, "quiet.io": 2}
    assert any("NPS known for 2 customers" in n for n in result.notes)


@pytest.mark.parametrize("first_inserted", ["d1", "d2"])
def test_of_two_first_deals_won_the_same_day_the_first_by_deal_key_sets_the_tier(
    first_inserted: str,
) -> None:
    """Two won deals of one customer closed on the same day: the first deal's ACV and cycle
    are those of the lower deal key, whatever order the store holds them in, so the same
    data always give the same tiers."""
    import duckdb

    from icpkit.analysis.tiers import assign_tiers

    con = duckdb.connect()
    con.execute(
        """CREATE TABLE deals (deal_key VARCHAR, account_key VARCHAR, outcome VARCHAR,
               is_expansion BOOLEAN, amount DOUBLE, cycle_days INTEGER,
               created_at TIMESTAMP, closed_at TIMESTAMP);
           CREATE TABLE accounts (account_key VARCHAR, churned BOOLEAN, churn_date DATE,
               nps DOUBLE, product_usage DOUBLE)"""
    )
    rows = {
        "d1": ("d1", "acme", "won", False, 10.0, 100, "2024-01-01", "2024-04-10"),
        "d2": ("d2", "acme", "won", False, 1000.0, 10, "2024-03-31", "2024-04-10"),
    }
    for key in (first_inserted, "d2" if first_inserted == "d1" else "d1"):
        con.execute("INSERT INTO deals VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[key])
    con.execute("INSERT INTO accounts VALUES ('acme', false, NULL, NULL, NULL)")
    settings = TierSettings(acv_threshold=500, cycle_days_threshold=50)
    (customer,) = assign_tiers(con, settings).customers
    assert (customer.first_acv, customer.first_cycle_days) == (10.0, 100)
    assert customer.points == 0  # neither a large first deal nor a fast one
