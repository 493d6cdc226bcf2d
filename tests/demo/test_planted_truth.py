"""The planted effects are visible in the generated outcomes, and documented."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

import pytest

import icpkit.demo
from icpkit.demo.world import logistic

from .conftest import Loaded

Row = dict[str, str]


def band(employees: str) -> str:
    e = int(employees)
    if e <= 10:
        return "1-10"
    if e <= 50:
        return "11-50"
    if e <= 200:
        return "51-200"
    if e <= 1000:
        return "201-1000"
    return "1001+"


def closed_nb(data: Loaded) -> list[Row]:
    return [
        t for t in data.deal_truth if t["Deal Type"] == "New Business" and t["outcome"] != "open"
    ]


def win_rate(rows: Iterable[Row]) -> float:
    rows = list(rows)
    return sum(r["outcome"] == "won" for r in rows) / len(rows)


def split_rate(rows: list[Row], key: Callable[[Row], bool]) -> tuple[float, float]:
    return win_rate(r for r in rows if key(r)), win_rate(r for r in rows if not key(r))


def tools(data: Loaded) -> dict[str, set[str]]:
    return {c["Record ID"]: set(c["tech"].split(";")) for c in data.company_truth}


def test_fit_discriminators_and_disqualifiers_at_2000_deals(small: Loaded) -> None:
    nb = closed_nb(small)
    assert len(nb) > 1_300
    tech = tools(small)
    inside, outside = split_rate(nb, lambda r: band(r["employees"]) == "51-200")
    assert inside > outside + 0.12
    inside, outside = split_rate(nb, lambda r: r["industry"] == "Software")
    assert inside > outside + 0.08
    inside, outside = split_rate(nb, lambda r: "HubSpot" in tech[r["Company Record ID"]])
    assert inside > outside + 0.08
    inside, outside = split_rate(nb, lambda r: r["industry"] == "Public Administration")
    assert inside < outside - 0.12
    inside, outside = split_rate(nb, lambda r: band(r["employees"]) == "1-10")
    assert inside < outside - 0.08


@pytest.mark.slow
def test_decoys_are_as_common_in_wins_as_in_losses(large: Loaded) -> None:
    nb = closed_nb(large)
    tech = tools(large)
    won = [r for r in nb if r["outcome"] == "won"]
    lost = [r for r in nb if r["outcome"] == "lost"]
    decoys: dict[str, Callable[[Row], bool]] = {
        "US": lambda r: r["country"] == "US",
        "Google Analytics": lambda r: "Google Analytics" in tech[r["Company Record ID"]],
        "Slack": lambda r: "Slack" in tech[r["Company Record ID"]],
    }
    for name, has in decoys.items():
        in_won = sum(map(has, won)) / len(won)
        in_lost = sum(map(has, lost)) / len(lost)
        assert in_won > 0.4, name
        assert abs(in_won - in_lost) < 0.03, name


@pytest.mark.slow
def test_intent_windows(large: Loaded) -> None:
    nb = closed_nb(large)
    inside, outside = split_rate(nb, lambda r: r["funding_intent"] == "1")
    assert inside > outside + 0.12
    inside, outside = split_rate(nb, lambda r: r["sdr_intent"] == "1")
    assert inside > outside + 0.06


def test_intent_flags_follow_from_signals_csv(small: Loaded) -> None:
    domain = {c["Record ID"]: c["domain"] for c in small.company_truth}
    rounds: dict[str, list[date]] = {}
    sdr: dict[str, list[date]] = {}
    for s in small.signals:
        day = date.fromisoformat(s["Signal Date"])
        stage = s["Detail"].split(" ", 1)[-1] if s["Detail"].startswith("$") else s["Detail"]
        if s["Signal Type"] == "funding_round" and stage in ("Series A", "Series B"):
            rounds.setdefault(s["Company Domain Name"], []).append(day)
        if s["Signal Type"] == "job_posting" and s["Detail"] == "SDR":
            sdr.setdefault(s["Company Domain Name"], []).append(day)
    created = {d["Record ID"]: date.fromisoformat(d["Create Date"][:10]) for d in small.deals}
    for t in small.deal_truth:
        dom, day = domain[t["Company Record ID"]], created[t["Record ID"]]
        fund = any(60 <= (day - r).days <= 540 for r in rounds.get(dom, []))
        posted = any(0 <= (day - p).days <= 90 for p in sdr.get(dom, []))
        assert (t["funding_intent"], t["sdr_intent"]) == (str(int(fund)), str(int(posted)))


def test_p_win_matches_the_documented_model(small: Loaded) -> None:
    truth = small.truth
    tech = tools(small)
    base = truth["base_log_odds"]["new_business"]
    domain = {c["Record ID"]: c["domain"] for c in small.company_truth}
    # HubSpot counts from the company's first dated adoption (a tech_added event), if any.
    adopted: dict[str, date] = {}
    for s in small.signals:
        if s["Signal Type"] == "tech_added" and s["Detail"] == "HubSpot":
            day = date.fromisoformat(s["Signal Date"])
            adopted[s["Company Domain Name"]] = min(day, adopted.get(s["Company Domain Name"], day))
    created = {d["Record ID"]: date.fromisoformat(d["Create Date"][:10]) for d in small.deals}
    dated = 0
    for t in small.deal_truth:
        if t["Deal Type"] != "New Business":
            continue
        e, ind, tools_ = int(t["employees"]), t["industry"], tech[t["Company Record ID"]]
        since = adopted.get(domain[t["Company Record ID"]])
        hubspot = "HubSpot" in tools_ and (since is None or created[t["Record ID"]] >= since)
        dated += "HubSpot" in tools_ and not hubspot
        x = base
        x += 1.0 * (51 <= e <= 200) + 0.8 * (ind == "Software") + 0.7 * hubspot
        x += 0.9 * (t["funding_intent"] == "1") + 0.6 * (t["sdr_intent"] == "1")
        x += -1.5 * (ind == "Public Administration") - 1.0 * (e <= 10) - 0.5 * (e >= 1001)
        assert abs(float(t["p_win"]) - float(logistic(x))) < 1e-4
    assert dated > 0  # some deals came before their company adopted HubSpot


@pytest.mark.slow
def test_ground_truth_auc_is_informative(large: Loaded) -> None:
    nb = closed_nb(large)
    ranked = sorted(nb, key=lambda r: float(r["p_win"]))
    pos = sum(r["outcome"] == "won" for r in nb)
    neg = len(nb) - pos
    rank_sum = sum(i + 1 for i, r in enumerate(ranked) if r["outcome"] == "won")
    auc = (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
    assert 0.70 < auc < 0.85


def test_enterprise_confounder(small: Loaded) -> None:
    closed = [t for t in small.deal_truth if t["outcome"] != "open"]
    volume = Counter(band(t["employees"]) for t in closed)
    wins = Counter(band(t["employees"]) for t in closed if t["outcome"] == "won")
    assert max(wins, key=wins.__getitem__) == "1001+"
    assert max(volume, key=volume.__getitem__) == "1001+"
    nb = closed_nb(small)
    enterprise, _ = split_rate(nb, lambda r: band(r["employees"]) == "1001+")
    assert enterprise < win_rate(nb) - 0.03
    assert enterprise < win_rate(r for r in nb if band(r["employees"]) == "51-200") - 0.15


@pytest.mark.slow
def test_churn_drivers(large: Loaded) -> None:
    customers = [c for c in large.company_truth if c["customer"] == "1"]
    assert 0.07 < sum(c["churned"] == "1" for c in customers) / len(customers) < 0.14

    def churn(rows: list[Row]) -> float:
        return sum(c["churned"] == "1" for c in rows) / len(rows)

    micro = [c for c in customers if int(c["employees"]) <= 10]
    retail = [c for c in customers if c["industry"] == "Retail Trade"]
    rest = [c for c in customers if c not in micro and c not in retail]
    assert churn(micro) > churn(rest) + 0.05
    assert churn(retail) > churn(rest) + 0.05
    for c in customers:
        if c["churned"] == "1":
            assert c["customer_since"] < c["churn_date"] <= "2025-09-30"


@pytest.mark.slow
def test_tier_1_and_expansion_concentrate_in_the_icp(large: Loaded) -> None:
    customers = [c for c in large.company_truth if c["customer"] == "1"]
    icp = [c for c in customers if c["is_icp"] == "1"]
    other = [c for c in customers if c["is_icp"] == "0"]

    def tier1(rows: list[Row]) -> float:
        return sum(c["tier"] == "1" for c in rows) / len(rows)

    assert tier1(icp) > 1.3 * tier1(other)
    assert all(c["tier"] == "3" for c in customers if c["churned"] == "1")
    assert all(c["tier"] == "" for c in large.company_truth if c["customer"] == "0")
    eb = [t for t in large.deal_truth if t["Deal Type"] == "Existing Business"]
    eb = [t for t in eb if t["outcome"] != "open"]
    inside, outside = split_rate(eb, lambda r: r["is_icp"] == "1")
    assert inside > outside + 0.1


@pytest.mark.slow
def test_icp_deals_close_faster_and_larger(large: Loaded) -> None:
    truth = {t["Record ID"]: t for t in large.deal_truth}
    cycles: dict[str, list[int]] = {"1": [], "0": []}
    amounts: dict[str, list[int]] = {"1": [], "0": []}
    for d in large.deals:
        t = truth[d["Record ID"]]
        if t["outcome"] == "open" or t["Deal Type"] != "New Business":
            continue
        if not re.fullmatch(r"\d\d/\d\d/\d{4}", d["Close Date"]) or not d["Amount"].isdigit():
            continue
        month, day, year = map(int, d["Close Date"].split("/"))
        cycle = (date(year, month, day) - date.fromisoformat(d["Create Date"][:10])).days
        if cycle > 0 and 51 <= int(t["employees"]) <= 200:
            cycles[t["is_icp"]].append(cycle)
            amounts[t["is_icp"]].append(int(d["Amount"]))
    mean_cycle = {k: sum(v) / len(v) for k, v in cycles.items()}
    median_amount = {k: sorted(v)[len(v) // 2] for k, v in amounts.items()}
    assert mean_cycle["1"] < 0.85 * mean_cycle["0"]
    assert median_amount["1"] > 1.1 * median_amount["0"]


def test_every_json_attribute_is_documented(small: Loaded) -> None:
    text = (Path(icpkit.demo.__file__).parent / "PLANTED_TRUTH.md").read_text(encoding="utf-8")
    doc = " ".join(text.split())  # line wrapping must not hide a phrase
    lists = (
        "discriminators",
        "intent_signals",
        "disqualifiers",
        "decoys",
        "noise",
        "churn_drivers",
        "expansion_drivers",
        "tier_drivers",
    )
    entries = [e for name in lists for e in small.truth[name]]
    entries.append(small.truth["targeting_confounder"])
    for e in entries:
        for key in ("attribute", "type", "column"):
            if key in e:
                assert str(e[key]) in doc, e
        if isinstance(e.get("value"), str):
            assert e["value"] in doc, e
        for detail in e.get("detail_in", []):
            assert detail in doc, e
        if "min" in e:
            assert str(e["min"]) in doc, e
        if e.get("log_odds"):
            assert f"{abs(e['log_odds'])}" in doc, e
        if "window_days" in e:
            assert "{}-{}".format(*e["window_days"]) in doc, e
    for quirk in small.truth["messy_quirks"]:
        assert f"| {quirk['name']} |" in doc, quirk["name"]
    for key in small.truth:
        assert f"`{key}`" in doc, key
    for key in small.truth["counts"]:
        assert key in doc, key
    assert str(small.truth["base_log_odds"]["new_business"]) in doc


def test_timeline_is_pinned(small: Loaded) -> None:
    timeline = small.truth["timeline"]
    assert timeline["deals_created_from"] == "2022-01-01"
    assert timeline["deals_created_to"] == "2025-09-30"
    assert date.fromisoformat(timeline["export_date"]) - timedelta(days=1) == date(2025, 9, 30)
