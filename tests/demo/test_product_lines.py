"""The second product line of the demo CRM: opt-in, its own Pipeline and its own planted ICP."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import DemoCrm
from icpkit.cli.main import app
from icpkit.demo import make_crm
from once import once

from .conftest import Loaded, load

N_DEALS, SEED = 3000, 5
LINE_1, LINE_2 = "Sales Pipeline", "Compliance Pipeline"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A 3,000-deal demo CRM with the second product line planted (generated once per run)."""
    files = once(
        tmp_path_factory,
        f"product-lines-{N_DEALS}-{SEED}",
        lambda out: make_crm(N_DEALS, SEED, out, product_lines=2),
    )
    return load(files)


@pytest.fixture(scope="module")
def one(demo_crm: DemoCrm) -> Loaded:
    """The same size and seed without the plant."""
    return load(demo_crm(N_DEALS, SEED))


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def line_of_company(crm: Loaded) -> dict[str, str]:
    """The Pipeline of each company's deals, by the company's true Record ID."""
    by_deal = {d["Record ID"]: d["Pipeline"] for d in crm.deals}
    out: dict[str, set[str]] = defaultdict(set)
    for t in crm.deal_truth:
        out[t["Company Record ID"]].add(by_deal[t["Record ID"]])
    assert all(len(p) == 1 for p in out.values()), "a company's deals span two pipelines"
    return {c: p.pop() for c, p in out.items()}


def test_without_the_plant_every_deal_is_in_the_one_pipeline_and_truth_has_no_lines(
    one: Loaded,
) -> None:
    assert {d["Pipeline"] for d in one.deals} == {LINE_1}
    assert "product_lines" not in one.truth


# SHA-256 of every file make_crm(1000, 3, out) wrote before product lines existed: the plant
# is opt-in, so the default output must not move by a byte.
DEFAULT_DIGESTS = {
    "companies.csv": "dc3291aa68fe6a068ecd89ba453db0b5c6d59ff5a32c4037732ac203279e0fdd",
    "deals.csv": "ed76f36e07638907998ed47ffb8b4609dfd177e8e776cff99769a67d8b52df2a",
    "signals.csv": "a8e798159815531c1ba05c40d40657d46278505a16ab69297870ac835d7e2794",
    "truth/company_truth.csv": "e5c689204d49e84e029b68982f5f87263eee481ed865dff905bb7a201b8c31ee",
    "truth/deal_truth.csv": "c983b27e4f64647d5450761c9524479169f93901082725c13f398dccba365efb",
    "truth/planted_truth.json": "51904e91074cf603e466920be2c9dc4a593eebc519a5e669d87a8d7c61d53ab8",
}


def test_the_default_output_is_byte_identical_to_before_the_plant(tmp_path: Path) -> None:
    files = make_crm(1000, 3, tmp_path)
    for path in files.paths():
        name = path.relative_to(tmp_path).as_posix()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == DEFAULT_DIGESTS[name], name


def test_product_lines_1_writes_the_same_bytes_as_the_default(tmp_path: Path) -> None:
    a = make_crm(1000, 3, tmp_path / "a")
    b = make_crm(1000, 3, tmp_path / "b", product_lines=1)
    for x, y in zip(a.paths(), b.paths(), strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name


@pytest.mark.parametrize("bad", [0, 3])
def test_a_number_of_lines_other_than_1_or_2_is_refused(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="product_lines must be 1 or 2"):
        make_crm(1000, 3, tmp_path, product_lines=bad)


def test_each_company_sells_in_one_pipeline_and_both_lines_have_deals(two: Loaded) -> None:
    lines = line_of_company(two)
    share = sum(p == LINE_2 for p in lines.values()) / len(lines)
    # 35% of companies are line 2's; companies with deals lean to line 2 a little, since its
    # larger companies draw more deals (the enterprise deal rate): allow for that.
    assert 0.30 < share < 0.50, share
    assert {d["Pipeline"] for d in two.deals} == {LINE_1, LINE_2}


def test_the_plant_moves_no_other_draw_of_the_companies(one: Loaded, two: Loaded) -> None:
    # Country is drawn from the world's stream and never redrawn for line 2: equal for every
    # company; line-1 companies keep their head count and industry too.
    plain = {c["Record ID"]: c for c in one.company_truth}
    lines = line_of_company(two)
    for c in two.company_truth:
        p = plain[c["Record ID"]]
        assert (c["country"], c["domain"]) == (p["country"], p["domain"])
        if lines.get(c["Record ID"]) == LINE_1:
            assert (c["employees"], c["industry"]) == (p["employees"], p["industry"])


def criteria(doc: dict[str, Any]) -> set[tuple[str, object, float]]:
    """The (attribute, value or minimum, log-odds) of each discriminator of ``doc``."""
    return {
        (d["attribute"], d.get("value", d.get("min")), d["log_odds"]) for d in doc["discriminators"]
    }


def test_planted_truth_lists_each_line_with_its_own_criteria(two: Loaded) -> None:
    first, second = two.truth["product_lines"]
    assert (first["line"], first["pipeline"]) == (1, LINE_1)
    assert (second["line"], second["pipeline"]) == (2, LINE_2)
    # Line 1 is the CRM's usual planted ICP; line 2 shares none of its criteria.
    assert criteria(first) == criteria(two.truth)
    assert {c[:2] for c in criteria(first)}.isdisjoint(c[:2] for c in criteria(second))
    assert {d["attribute"] for d in second["discriminators"]} == {"employees", "industry", "tech"}


def test_line_2_deals_win_by_line_2s_documented_model(two: Loaded) -> None:
    (line,) = [e for e in two.truth["product_lines"] if e["line"] == 2]
    fits = {d["attribute"]: d for d in line["discriminators"]}
    size, industry, tech = fits["employees"], fits["industry"], fits["tech"]
    stack = {c["Record ID"]: c["tech"].split(";") for c in two.company_truth}
    pipeline = {d["Record ID"]: d["Pipeline"] for d in two.deals}
    checked = 0
    for t in two.deal_truth:
        if t["Deal Type"] != "New Business" or pipeline[t["Record ID"]] != LINE_2:
            continue
        e = int(t["employees"])
        x = line["base_log_odds"]
        x += size["log_odds"] * (size["min"] <= e <= size["max"])
        x += industry["log_odds"] * (t["industry"] == industry["value"])
        x += tech["log_odds"] * (tech["value"] in stack[t["Company Record ID"]])
        x += 0.9 * (t["funding_intent"] == "1") + 0.6 * (t["sdr_intent"] == "1")
        x += -1.5 * (t["industry"] == "Public Administration") - 1.0 * (e <= 10)
        x += -0.5 * (e >= 1001)  # the enterprise confounder, above line 2's band
        assert abs(float(t["p_win"]) - logistic(x)) < 1e-4, t["Record ID"]
        checked += 1
    assert checked > 300


def test_is_icp_judges_each_company_by_its_own_lines_icp(two: Loaded) -> None:
    lines = line_of_company(two)
    for c in two.company_truth:
        e, stack = int(c["employees"]), c["tech"].split(";")
        if lines.get(c["Record ID"]) == LINE_2:
            fits = 501 <= e <= 1000 and c["industry"] == "Financial Services"
            fits = fits and "Zendesk" in stack
        elif lines.get(c["Record ID"]) == LINE_1:
            fits = 51 <= e <= 200 and c["industry"] == "Software" and "HubSpot" in stack
        else:
            continue
        assert c["is_icp"] == str(int(fits)), c["Record ID"]


def test_line_2_customers_come_from_line_2s_market(two: Loaded) -> None:
    lines = line_of_company(two)
    customers = [c for c in two.company_truth if c["customer"] == "1"]
    industry = defaultdict(list)
    for c in customers:
        industry[lines[c["Record ID"]]].append(c["industry"] == "Financial Services")
    second, first = industry[LINE_2], industry[LINE_1]
    assert sum(second) / len(second) > 0.8
    assert sum(first) / len(first) < 0.2


def test_each_lines_truth_lists_the_disqualifiers_its_market_can_hold(two: Loaded) -> None:
    first, second = two.truth["product_lines"]
    assert first["disqualifiers"] == two.truth["disqualifiers"]
    # Line 2's market has no Public Administration and no company of 1-10 employees, so its
    # truth asks for neither exclusion ...
    assert second["disqualifiers"] == []
    lines = line_of_company(two)
    line_2 = [c for c in two.company_truth if lines.get(c["Record ID"]) == LINE_2]
    assert line_2
    assert not [c for c in line_2 if c["industry"] == "Public Administration"]
    assert not [c for c in line_2 if int(c["employees"]) <= 10]
    # ... while line 1's market holds both.
    line_1 = [c for c in two.company_truth if lines.get(c["Record ID"]) == LINE_1]
    assert any(c["industry"] == "Public Administration" for c in line_1)
    assert any(int(c["employees"]) <= 10 for c in line_1)


def test_line_2s_market_holds_companies_either_side_of_each_planted_value(two: Loaded) -> None:
    # A criterion can be found only where the market holds companies without it: head counts
    # below and above line 2's band, and more than one other industry, so that "Financial
    # Services wins" is not the mirror image of one industry losing.
    (line,) = [e for e in two.truth["product_lines"] if e["line"] == 2]
    size = next(d for d in line["discriminators"] if d["attribute"] == "employees")
    lines = line_of_company(two)
    market = [c for c in two.company_truth if lines.get(c["Record ID"]) == LINE_2]
    employees = [int(c["employees"]) for c in market]
    below = sum(e < size["min"] for e in employees) / len(employees)
    above = sum(e > size["max"] for e in employees) / len(employees)
    assert below > 0.15 and above > 0.15, (below, above)
    others = {c["industry"] for c in market} - {"Financial Services"}
    assert len(others) >= 3, others


def test_demo_data_writes_the_second_line_when_asked(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo-data", "--out", str(tmp_path), "--rows", "1000", "--product-lines", "2"],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "truth" / "planted_truth.json").read_text(encoding="utf-8"))
    assert [e["pipeline"] for e in truth["product_lines"]] == [LINE_1, LINE_2]
