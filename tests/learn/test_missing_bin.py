"""Unknown values are a bin of their own: where the ICP judges an attribute, accounts whose
value is unknown get points learned from the data (either sign, 0 included), shown in the
ICP and in the reasons, never a silent zero."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from icpkit.config import save_settings
from icpkit.engines.scorecard import build_scorecard
from icpkit.icp.describe import describe_rule
from icpkit.icp.model import ICP, Criterion, Evidence, dump_icp
from icpkit.learn.refine import refine
from icpkit.learn.selection import RuleEvidence
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow

COMPANIES = "Record ID,Company name,Company Domain Name,Number of Employees,Industry,Country/Region"
DEALS = (
    "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal Type,Associated Company IDs"
)
# Head counts of the groups (None: unknown) and each group's win rate; 51-200 is the ICP.
SIZES: tuple[int | None, ...] = (30, 120, 700, 3000, None)
RATE = {30: 0.3, 120: 0.6, 700: 0.3, 3000: 0.3}


@dataclass(frozen=True)
class Crm:
    ws: Workspace
    icp: ICP


def _wins(n: int, rate: float) -> list[bool]:
    """``n`` outcomes with exactly ``rate`` of them won, spread evenly (no sampling noise)."""
    return [int((k + 1) * rate) > int(k * rate) for k in range(n)]


def build(root: Path, unknown_rate: float, *, per_group: int = 100, unknown: int = 100) -> Crm:
    """Accounts of 30, 120, 700 and 3,000 employees and accounts with no employee count, two
    new-business deals each; 51-200 wins 60%, the other known sizes 30%, unknown sizes
    ``unknown_rate``. Everything else is alike (Software, United States)."""
    root.mkdir(parents=True, exist_ok=True)
    companies, deals = [COMPANIES], [DEALS]
    account = deal = 0
    for size in SIZES:
        count = unknown if size is None else per_group
        outcomes = _wins(2 * count, unknown_rate if size is None else RATE[size])
        for i in range(count):
            companies.append(
                f"{1000 + account},Co {account},co{account}.com,"
                f"{'' if size is None else size},Software,United States"
            )
            for won in outcomes[2 * i : 2 * i + 2]:
                month = 1 + deal % 12
                stage = "Closed Won" if won else "Closed Lost"
                deals.append(
                    f"{9000 + deal},Deal {deal},{stage},1000,2024-{month:02d}-20,"
                    f"2024-{month:02d}-01,New Business,{1000 + account}"
                )
                deal += 1
            account += 1
    (root / "companies.csv").write_text("\n".join(companies) + "\n", encoding="utf-8")
    (root / "deals.csv").write_text("\n".join(deals) + "\n", encoding="utf-8")
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv", root / "deals.csv"]).ok
    return Crm(ws, ws.derive().icp)


@pytest.fixture(scope="module")
def loses_more(tmp_path_factory: pytest.TempPathFactory) -> Crm:
    return build(tmp_path_factory.mktemp("unknown-loses"), 0.08)


@pytest.fixture(scope="module")
def no_difference(tmp_path_factory: pytest.TempPathFactory) -> Crm:
    return build(tmp_path_factory.mktemp("unknown-alike"), 0.3)


def _bin(icp: ICP, attribute: str = "employees") -> Criterion:
    bins = [c for c in icp.fit if c.missing and c.attribute == attribute]
    assert len(bins) == 1, [c.id for c in icp.fit]
    return bins[0]


def _points(ws: Workspace, icp: ICP) -> dict[str, int]:
    return {rp.id: rp.points for rp in build_scorecard(icp, ws.settings.scoring).rules}


def test_accounts_without_employees_that_win_less_cost_points(loses_more: Crm) -> None:
    icp = loses_more.icp
    assert any(c.attribute == "employees" and not c.missing for c in icp.fit)
    unknown = _bin(icp)
    assert unknown.source == "derived"
    assert unknown.weight is not None and unknown.weight < -0.5
    points = _points(loses_more.ws, icp)[unknown.id]
    assert points < 0
    assert unknown.evidence is not None
    assert unknown.evidence.n_closed == 200 and unknown.evidence.n_accounts == 100
    assert unknown.rationale.startswith(f"employees unknown ({points:+d} points, decided by")
    assert describe_rule(unknown).startswith(
        f"employees unknown: weight {unknown.weight:+.2f}, decided by the data"
    )


def test_an_account_without_employees_is_told_what_unknown_cost_it(
    loses_more: Crm, tmp_path: Path
) -> None:
    ws, icp = loses_more.ws, loses_more.icp
    points = _points(ws, icp)[_bin(icp).id]
    path = tmp_path / "prospects.parquet"
    table = pa.table(
        {
            "account_key": ["nosize.com", "mid.com", "big.com"],
            "employees": pa.array([None, 120, 3000], pa.int64()),
            "industry": ["Software"] * 3,
            "country": ["US"] * 3,
        }
    )
    pq.write_table(table, path)
    rows = {r["account_key"]: r for r in ws.score_file(path, as_of=dt.date(2025, 1, 1)).rows()}
    assert f"Employees unknown ({points:+d})" in rows["nosize.com"]["negative_reasons"]
    for key in ("mid.com", "big.com"):
        assert "unknown" not in f"{rows[key]['top_reasons']}{rows[key]['negative_reasons']}"
    # Unknown scores below a known size outside the ICP, as the deals say.
    assert rows["nosize.com"]["score"] < rows["big.com"]["score"] < rows["mid.com"]["score"]


def test_where_unknown_makes_no_difference_its_bin_is_shown_near_zero(no_difference: Crm) -> None:
    icp = no_difference.icp
    unknown = _bin(icp)
    ranges = [c for c in icp.fit if c.attribute == "employees" and not c.missing]
    points = _points(no_difference.ws, icp)
    assert unknown.weight is not None and abs(unknown.weight) < 0.25
    strongest = max(abs(points[c.id]) for c in ranges)
    assert abs(points[unknown.id]) <= max(1, strongest // 5)
    assert "decided by the data" in unknown.rationale
    assert "employees unknown" in describe_rule(unknown)


def test_the_bin_is_written_to_icp_yaml(loses_more: Crm) -> None:
    text = loses_more.ws.config_path.read_text(encoding="utf-8")
    assert "missing: true" in text and "id: employees-unknown" in text


def test_points_set_by_hand_on_the_bin_survive_derivation(loses_more: Crm, tmp_path: Path) -> None:
    ws = Workspace.open(loses_more.ws.root)
    icp = loses_more.icp
    locked = _bin(icp).model_copy(
        update={"locked": True, "reason": "an unknown size is a weak lead", "points": -7.0}
    )
    edited = icp.model_copy(update={"fit": [locked if c.id == locked.id else c for c in icp.fit]})
    ws.settings.icp = dump_icp(edited)
    save_settings(ws.settings, ws.config_path)
    again = Workspace.open(ws.root).derive().icp
    kept = _bin(again)
    assert (kept.points, kept.locked, kept.id) == (-7, True, locked.id)
    assert _points(ws, again)[kept.id] == -7


def test_too_few_unknown_values_get_a_note_and_no_points(tmp_path: Path) -> None:
    crm = build(tmp_path, 0.08, unknown=4)
    assert not [c for c in crm.icp.fit if c.missing]
    note = next(n for n in crm.icp.notes if n.startswith("employees unknown"))
    assert "8 closed deals from 4 accounts, too few to learn points" in note
    assert "an unknown value scores 0" in note


def _evidence() -> Evidence:
    return Evidence(n_closed=100, wins=30, win_rate=0.3, base_rate=0.3)


def test_the_bin_goes_with_the_last_rule_on_its_attribute() -> None:
    size = Criterion(
        id="employees-51-200",
        attribute="employees",
        min=51,
        max=200,
        source="derived",
        weight=0.05,
        evidence=_evidence(),
    )
    unknown = Criterion(
        id="employees-unknown",
        attribute="employees",
        missing=True,
        source="derived",
        weight=-0.01,
        evidence=_evidence(),
    )
    software = Criterion(
        id="industry-software",
        attribute="industry",
        values=["Software"],
        source="derived",
        weight=0.9,
        evidence=_evidence(),
    )
    industry = Criterion(id="industry-unknown", attribute="industry", missing=True,
                         source="derived", weight=0.0, evidence=_evidence())  # fmt: skip
    icp = ICP(
        derived_at=dt.datetime(2025, 1, 1),
        data_fingerprint="x",
        fit=[size, unknown, software, industry],
    )
    verdicts = {
        "employees-51-200": RuleEvidence(0.05, 0.5, 0.6, 0.6, False, False),
        "industry-software": RuleEvidence(0.9, 5.0, 1e-6, 1e-6, True, True),
    }
    refined, notes = refine(icp, 1.2, evidence=verdicts)
    assert [c.id for c in refined.fit] == ["industry-software", "industry-unknown"]
    assert any(n.startswith("employees-unknown: dropped: no rule on employees") for n in notes)
