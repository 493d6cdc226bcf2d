"""The planted buyer persona: contacts.csv, its truth, and a world that moves only when asked."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from icpkit.demo import make_crm
from icpkit.demo.contacts import FAMILIES, ONBOARDING
from icpkit.ingest.normalize.titles import department_of, seniority_of
from icpkit.workspace import Workspace

N_DEALS = 3000


def rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The same CRM without and with the persona planted."""
    root = tmp_path_factory.mktemp("contacts")
    return make_crm(N_DEALS, 11, root / "off"), make_crm(N_DEALS, 11, root / "on", contacts=True)


def test_contacts_are_off_by_default(pair) -> None:  # type: ignore[no-untyped-def]
    off, _ = pair
    assert off.contacts is None
    assert not (off.out_dir / "contacts.csv").exists()
    truth = json.loads(off.planted_truth.read_text(encoding="utf-8"))
    assert "persona" not in truth
    assert "contacts" not in truth["counts"]
    assert off.exports() == [off.companies, off.deals, off.signals]


def test_planting_the_persona_keeps_companies_and_signals_as_they_were(pair) -> None:  # type: ignore[no-untyped-def]
    off, on = pair
    assert on.signals.read_bytes() == off.signals.read_bytes()
    kept = ("Record ID", "Company name", "Company Domain Name", "Number of Employees", "Industry")
    before = [{k: r[k] for k in kept} for r in rows(off.companies, "utf-8-sig")]
    after = [{k: r[k] for k in kept} for r in rows(on.companies, "utf-8-sig")]
    assert before == after
    # Deals are created on the same days; only outcomes (and what follows them) move.
    assert [r["Create Date"] for r in rows(off.deals)] == [r["Create Date"] for r in rows(on.deals)]


def test_contacts_file_is_a_hubspot_contacts_export_linked_to_companies(pair) -> None:  # type: ignore[no-untyped-def]
    _, on = pair
    assert on.contacts == on.out_dir / "contacts.csv"
    people = rows(on.contacts)
    assert len(people) == on.n_contacts > N_DEALS // 2
    assert list(people[0]) == [
        "Record ID", "First Name", "Last Name", "Email", "Job Title", "Lifecycle Stage",
        "Create Date", "Associated Company IDs", "Associated Company",
    ]  # fmt: skip
    company_ids = {r["Record ID"] for r in rows(on.companies, "utf-8-sig")}
    assert all(p["Associated Company IDs"] in company_ids for p in people)
    assert len({p["Record ID"] for p in people}) == len(people)
    per_company: dict[str, int] = {}
    for p in people:
        per_company[p["Associated Company IDs"]] = (
            per_company.get(p["Associated Company IDs"], 0) + 1
        )
    assert max(per_company.values()) >= 4  # several contacts per account
    assert any(p["Job Title"] == "" for p in people)  # messy: a few titles are blank
    assert any(p["Email"].endswith("@gmail.com") for p in people)


def test_every_title_reads_as_its_familys_role() -> None:
    for family in FAMILIES:
        for title in family.titles:
            assert (seniority_of(title), department_of(title)) == (
                family.seniority,
                family.department,
            ), title


def test_planted_truth_records_the_persona_and_its_decoys(pair) -> None:  # type: ignore[no-untyped-def]
    _, on = pair
    truth = json.loads(on.planted_truth.read_text(encoding="utf-8"))
    persona = truth["persona"]
    planted = {(r["seniority"], r["department"]) for r in persona["roles"]}
    assert planted == {("VP", "Sales"), ("Manager", "Operations")}
    assert all(r["log_odds"] > 0 for r in persona["roles"])
    decoys = {(r["seniority"], r["department"]) for r in persona["decoy_roles"]}
    assert ("Manager", "Sales") in decoys and not planted & decoys
    assert persona["onboarding"]["family"] == ONBOARDING
    assert truth["counts"]["contacts"] == on.n_contacts


def _new_business_outcomes(on) -> dict[str, list[tuple[dt.date, bool, str]]]:  # type: ignore[no-untyped-def]
    """Per company Record ID: (created, won, company) of its closed New Business deals."""
    out: dict[str, list[tuple[dt.date, bool, str]]] = {}
    for d in rows(on.deals):
        stage = d["Deal Stage"].lower().replace(" ", "")
        if d["Deal Type"] != "New Business" or stage not in ("closedwon", "closedlost"):
            continue
        company = d["Associated Company IDs"]
        created = dt.date.fromisoformat(d["Create Date"][:10])
        out.setdefault(company, []).append((created, stage == "closedwon", company))
    return out


def _win_rates(on, titles: set[str]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Win rate of closed New Business deals whose company had a contact with one of
    ``titles`` created by the deal's creation, and of the others."""
    known: dict[str, dt.date] = {}
    for p in rows(on.contacts):
        if p["Job Title"] in titles:
            day = dt.date.fromisoformat(p["Create Date"][:10])
            c = p["Associated Company IDs"]
            known[c] = min(day, known.get(c, day))
    counts = {True: [0, 0], False: [0, 0]}
    for deals in _new_business_outcomes(on).values():
        for created, won, company in deals:
            has = company in known and known[company] <= created
            counts[has][0] += won
            counts[has][1] += 1
    return counts[True][0] / counts[True][1], counts[False][0] / counts[False][1]


def test_deals_with_a_vp_of_sales_win_more_and_with_an_engineer_do_not(pair) -> None:  # type: ignore[no-untyped-def]
    _, on = pair
    vp = next(f for f in FAMILIES if f.name == "sales_vp")
    engineer = next(f for f in FAMILIES if f.name == "engineer")
    with_vp, without_vp = _win_rates(on, set(vp.titles))
    assert with_vp - without_vp > 0.08
    with_eng, without_eng = _win_rates(on, set(engineer.titles))
    assert abs(with_eng - without_eng) < 0.05


def test_onboarding_adds_it_administrators_only_after_a_first_win(pair) -> None:  # type: ignore[no-untyped-def]
    _, on = pair
    it = next(f for f in FAMILIES if f.name == ONBOARDING)
    won_on: dict[str, dt.date] = {}
    for d in rows(on.deals):
        if (
            d["Deal Type"] == "New Business"
            and d["Deal Stage"].lower().replace(" ", "") == "closedwon"
        ):
            try:
                closed = dt.datetime.strptime(d["Close Date"], "%m/%d/%Y").date()
            except ValueError:
                continue  # a planted bad cell
            c = d["Associated Company IDs"]
            won_on[c] = min(closed, won_on.get(c, closed))
    after = sum(
        1
        for p in rows(on.contacts)
        if p["Job Title"] in it.titles
        and p["Associated Company IDs"] in won_on
        and dt.date.fromisoformat(p["Create Date"][:10]) > won_on[p["Associated Company IDs"]]
    )
    assert after > 0.3 * len(won_on)


def test_ingest_reads_contacts_csv_as_contacts_of_the_companies(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, on = pair
    ws = Workspace.init(tmp_path / "ws")
    result = ws.ingest(on.exports())
    assert [f.entity for f in result.files] == ["companies", "deals", "signals", "contacts"]
    with ws.connect(read_only=True) as con:
        total, linked, dated = con.execute(
            "SELECT count(*), count(account_key), count(created_at) FROM contacts"
        ).fetchone()  # type: ignore[misc]
        orphans = con.execute(
            "SELECT count(*) FROM contacts WHERE account_key NOT IN "
            "(SELECT account_key FROM accounts WHERE source_file NOT LIKE '%contacts.csv')"
        ).fetchone()[0]  # type: ignore[index]
    assert total == on.n_contacts == linked == dated
    assert orphans == 0
