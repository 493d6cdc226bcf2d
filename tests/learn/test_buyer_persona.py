"""The buyer persona learned from contacts: roles tested by account, the ICP's ``persona:``,
the persona scoring uses, and contacts ranked within an account."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pytest

from icpkit.analysis.persona import (
    DealContacts,
    analyze_persona,
    load_deal_contacts,
    rank_contacts,
)
from icpkit.config import AnalysisSettings, PersonaRoleSetting, PersonaSettings
from icpkit.demo import make_crm
from icpkit.engines.compiled import persona_matcher
from icpkit.engines.features import persona_sql
from icpkit.engines.reference import persona_match
from icpkit.learn.persona import persona_learned_from, persona_of, scoring_persona
from icpkit.workspace import Workspace

SETTINGS = AnalysisSettings()


def deal_contacts(
    won: list[bool], labels: list[list[tuple[str, str]]], accounts: list[str] | None = None
) -> DealContacts:
    """Deals with the (seniority, department) of each contact known by their close."""
    deal = [i for i, people in enumerate(labels) for _ in people]
    return DealContacts(
        account=np.array(accounts or [f"a{i}" for i in range(len(won))], dtype=object),
        won=np.array(won, dtype=bool),
        cycle_days=np.full(len(won), 30.0),
        deal=np.array(deal, dtype=np.int64),
        seniority=np.array([s for people in labels for s, _ in people], dtype=object),
        department=np.array([d for people in labels for _, d in people], dtype=object),
        contacts=len(deal),
    )


def planted(n: int, seed: int) -> DealContacts:
    """One deal per account; a VP in Sales in half of them lifts the win rate from 25% to
    55%, an engineer in half of them changes nothing."""
    rng = np.random.default_rng(seed)
    vp = rng.random(n) < 0.5
    engineer = rng.random(n) < 0.5
    won = rng.random(n) < np.where(vp, 0.55, 0.25)
    labels = [
        [("VP", "Sales")] * bool(v) + [("Individual contributor", "Engineering")] * bool(e)
        for v, e in zip(vp.tolist(), engineer.tolist(), strict=True)
    ]
    return deal_contacts(won.tolist(), labels)


def test_a_role_present_in_won_deals_more_is_the_persona_and_a_neutral_one_is_not() -> None:
    result = analyze_persona(planted(600, 1), SETTINGS)
    assert [(r.seniority, r.department) for r in result.roles] == [("VP", "Sales")]
    engineer = next(x for x in result.labels if x.label == "Individual contributor in Engineering")
    assert engineer.comparison is not None and not engineer.passes
    assert result.sentences() == ["Contact first: VP in Sales."]


def test_seniority_and_department_alone_are_tested_but_only_roles_make_the_persona() -> None:
    result = analyze_persona(planted(600, 2), SETTINGS)
    kinds = {(x.kind, x.label) for x in result.labels}
    assert {("seniority", "VP"), ("department", "Sales"), ("role", "VP in Sales")} <= kinds
    assert all(x.kind == "role" for x in result.roles)


def test_a_role_seen_in_too_few_deals_is_not_tested() -> None:
    dc = planted(600, 3)
    rare = deal_contacts(
        dc.won.tolist(),
        [[("Director", "Legal")] if i < 10 else [] for i in range(len(dc))],
    )
    legal = next(
        x for x in analyze_persona(rare, SETTINGS).labels if x.label == "Director in Legal"
    )
    assert legal.comparison is None and not legal.passes and legal.deals_in == 10


def test_deals_of_one_account_count_as_one_account() -> None:
    # 40 deals of one account, all won and all with a VP, against 200 one-deal accounts
    # without: one account cannot make a persona.
    won = [True] * 40 + [i % 3 == 0 for i in range(200)]
    labels = [[("VP", "Sales")]] * 40 + [[("Manager", "Marketing")]] * 200
    accounts = ["whale"] * 40 + [f"a{i}" for i in range(200)]
    result = analyze_persona(deal_contacts(won, labels, accounts), SETTINGS)
    vp = next(x for x in result.labels if x.label == "VP in Sales")
    assert vp.accounts_in == 1 and not vp.passes


def test_no_contacts_means_no_persona_said_plainly() -> None:
    empty = deal_contacts([True, False, True], [[], [], []])
    result = analyze_persona(replace(empty, contacts=0), SETTINGS)
    assert result.roles == [] and result.labels == []
    assert result.sentences() == [
        "No persona: the workspace has no contacts (ingest a contacts export)."
    ]
    assert persona_of(result) is None


def test_no_role_passing_says_so_and_writes_an_empty_persona() -> None:
    rng = np.random.default_rng(4)
    won = (rng.random(400) < 0.3).tolist()
    labels = [[("VP", "Sales")] if rng.random() < 0.5 else [] for _ in range(400)]
    result = analyze_persona(deal_contacts(won, labels), SETTINGS)
    assert result.roles == []
    assert result.sentences()[0].startswith("No persona: the one role tested is not present")
    persona = persona_of(result)
    assert persona is not None and persona.roles == []


def test_committee_bands_count_contacts_known_by_the_close() -> None:
    labels = [[("VP", "Sales")] * k for k in (0, 1, 1, 2, 5, 7)]
    result = analyze_persona(
        deal_contacts([False, True, False, True, True, True], labels), SETTINGS
    )
    bands = {b.band: (b.deals, b.wins) for b in result.committee}
    assert bands == {"0": (1, 0), "1": (2, 1), "2": (1, 1), "5+": (2, 2)}


def test_the_icp_persona_carries_evidence_and_a_rationale() -> None:
    persona = persona_of(analyze_persona(planted(600, 5), SETTINGS))
    assert persona is not None
    (role,) = persona.roles
    assert (role.seniority, role.department) == ("VP", "Sales")
    assert role.evidence is not None and role.evidence.lift is not None
    assert role.evidence.lift > 1 and role.evidence.lift_ci is not None
    assert role.evidence.lift_ci[0] > 1
    assert role.evidence.win_rate > role.evidence.base_rate
    assert "VP in Sales" in role.rationale and "by account" in role.rationale
    assert persona.committee is not None


def test_a_persona_set_by_hand_is_kept_and_a_learned_one_is_replaced() -> None:
    persona = persona_of(analyze_persona(planted(600, 6), SETTINGS))
    by_hand = PersonaSettings(seniorities=["Director"], points=5)
    assert scoring_persona(by_hand, persona) is by_hand
    learned = PersonaSettings(
        roles=[PersonaRoleSetting(seniority="C-level", department="Executive")], learned=True
    )
    now = scoring_persona(learned, persona)
    assert [(r.seniority, r.department) for r in now.roles] == [("VP", "Sales")]
    assert now.learned
    assert not scoring_persona(learned, None).is_set()


def test_contacts_rank_persona_roles_first_in_the_personas_order() -> None:
    people = [
        {"full_name": "Ann", "job_title": "CEO", "seniority": "C-level", "department": "Executive"},
        {"full_name": "Bo", "job_title": "RevOps Manager", "seniority": "Manager",
         "department": "Operations"},
        {"full_name": "Cy", "job_title": "VP Sales", "seniority": "VP", "department": "Sales"},
        {"full_name": "Di", "job_title": "Engineer", "seniority": "Individual contributor",
         "department": "Engineering"},
        {"full_name": "Ed", "job_title": "", "seniority": None, "department": None},
    ]  # fmt: skip
    ranked = rank_contacts(people, [("VP", "Sales"), ("Manager", "Operations")])
    assert [c.name for c in ranked] == ["Cy", "Bo", "Ann", "Di", "Ed"]
    assert [c.persona_role for c in ranked[:3]] == ["VP in Sales", "Manager in Operations", None]
    assert ranked[0].reason.startswith("persona role 1 of 2")


def test_persona_roles_match_alike_in_the_reference_the_compiled_scorer_and_sql() -> None:
    persona = PersonaSettings(
        roles=[
            PersonaRoleSetting(seniority="VP", department="Sales"),
            PersonaRoleSetting(seniority="Manager", department="Operations"),
        ]
    )
    cases = [
        ("VP", "Sales", True),
        ("vp", "sales", True),
        ("Manager", "Operations", True),
        ("Manager", "Sales", False),
        ("VP", "Operations", False),
        (None, "Sales", False),
        ("VP", None, False),
    ]
    day = dt.date(2025, 1, 1)
    condition = persona_sql(persona)
    assert condition is not None
    con = duckdb.connect()
    for seniority, department, expected in cases:
        contact = {"seniority": seniority, "department": department, "job_title": "x"}
        assert persona_match(persona, [contact], day) is expected
        assert persona_matcher(persona, day)([(seniority, department, "x", None)]) is expected
        row = con.execute(
            f"SELECT coalesce({condition}, false) FROM (SELECT ?::VARCHAR AS seniority, "
            "?::VARCHAR AS department, 'x' AS job_title) p",
            [seniority, department],
        ).fetchone()
        assert row is not None and row[0] is expected, (seniority, department)


# ---- on the demo CRM ---------------------------------------------------------------------

SEEDS = (1, 2, 3, 4, 5)
N_DEALS = 3000


@pytest.fixture(scope="module")
def demo_contacts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[DealContacts, dict]]:  # type: ignore[type-arg]
    """Per seed: the deals and contacts of the demo CRM with the persona planted, ingested,
    and its planted truth."""
    out = {}
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"persona{seed}")
        files = make_crm(N_DEALS, seed, root / "crm", contacts=True)
        ws = Workspace.init(root / "ws")
        assert ws.ingest(files.exports()).ok
        with ws.connect(read_only=True) as con:
            dc = load_deal_contacts(con)
        out[seed] = (dc, json.loads(files.planted_truth.read_text(encoding="utf-8"))["persona"])
    return out


@pytest.mark.slow
def test_derivation_recovers_the_planted_roles_and_no_decoy_over_five_seeds(
    demo_contacts: dict[int, tuple[DealContacts, dict]],  # type: ignore[type-arg]
) -> None:
    for seed, (dc, truth) in demo_contacts.items():
        result = analyze_persona(dc, SETTINGS)
        found = {(r.seniority, r.department) for r in result.roles}
        planted_roles = {(r["seniority"], r["department"]) for r in truth["roles"]}
        decoys = {(r["seniority"], r["department"]) for r in truth["decoy_roles"]}
        assert found == planted_roles, (seed, found)
        assert not found & decoys
        # IT administrators join after the close: counted only before it, they are no persona.
        assert dc.after_close > 0


@pytest.mark.slow
def test_shuffled_outcomes_find_no_persona_in_most_seeds(
    demo_contacts: dict[int, tuple[DealContacts, dict]],  # type: ignore[type-arg]
) -> None:
    found = 0
    for seed, (dc, _) in demo_contacts.items():
        # Shuffle outcomes between accounts (an account keeps its deals together): any tie
        # between contacts and winning is gone.
        accounts, index = np.unique(dc.account.astype(str), return_inverse=True)
        rng = np.random.default_rng(seed)
        won_of = np.zeros(len(accounts))
        np.add.at(won_of, index, dc.won)
        moved = rng.permutation(len(accounts))
        share = won_of / np.bincount(index)
        won = rng.random(len(dc)) < share[moved][index]
        result = analyze_persona(replace(dc, won=won), SETTINGS)
        found += bool(result.roles)
    assert found <= 1, f"a persona in {found} of {len(SEEDS)} shuffled seeds"


@pytest.mark.slow
def test_derive_writes_the_persona_into_the_icp_and_scores_with_it(tmp_path: Path) -> None:
    files = make_crm(N_DEALS, 8, tmp_path / "crm", contacts=True)
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    icp = ws.current_icp()
    assert icp is not None and icp.persona is not None
    roles = [(r.seniority, r.department) for r in icp.persona.roles]
    assert set(roles) == {("VP", "Sales"), ("Manager", "Operations")}
    reopened = Workspace.open(ws.root)  # what icp.yaml holds, read back
    persona = reopened.settings.scoring.persona
    assert persona.learned and {(r.seniority, r.department) for r in persona.roles} == set(roles)
    assert icp.scoring is not None and (icp.scoring.persona_weight or 0) > 0
    ranked = reopened.ranked_contacts(_account_with_vp(reopened))
    assert ranked[0].persona_role is not None
    # A backtest learns the persona again from its training deals only.
    with reopened.connect(read_only=True) as con:
        again = persona_learned_from(con, reopened.settings, "TRUE").scoring.persona
        none = persona_learned_from(con, reopened.settings, "FALSE").scoring.persona
        by_hand = reopened.settings.model_copy(deep=True)
        by_hand.scoring.persona = PersonaSettings(titles=["revops"])
        kept = persona_learned_from(con, by_hand, "FALSE").scoring.persona
    assert {(r.seniority, r.department) for r in again.roles} == set(roles)
    assert not none.is_set()
    assert kept.titles == ["revops"]


def _account_with_vp(ws: Workspace) -> str:
    with ws.connect(read_only=True) as con:
        row = con.execute(
            "SELECT account_key FROM contacts WHERE seniority = 'VP' AND department = 'Sales' "
            "ORDER BY account_key LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_workspace_without_contacts_derives_no_persona_and_does_not_fail(
    demo_workspace, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ws = demo_workspace(800, 5).copy(tmp_path / "ws")
    assert ws.persona().sentences() == [
        "No persona: the workspace has no contacts (ingest a contacts export)."
    ]
    ws.derive()
    icp = ws.current_icp()
    assert icp is not None and icp.persona is None
    assert not ws.settings.scoring.persona.is_set()
    assert "persona" not in (ws.root / "icp.yaml").read_text(encoding="utf-8").split("\nicp:")[1]


def _store(deals: list[tuple], contacts: list[tuple]) -> duckdb.DuckDBPyConnection:  # type: ignore[type-arg]
    """An in-memory store holding ``deals`` (key, account, outcome, created, closed,
    expansion) and ``contacts`` (key, account, seniority, department, created)."""
    from icpkit.store.schema import TABLES

    con = duckdb.connect()
    con.execute(TABLES["deals"])
    con.execute(TABLES["contacts"])
    for key, account, outcome, created, closed, expansion in deals:
        con.execute(
            "INSERT INTO deals (deal_key, system, account_key, outcome, created_at, closed_at, "
            "is_expansion) VALUES (?, 'x', ?, ?, ?, ?, ?)",
            [key, account, outcome, created, closed, expansion],
        )
    for key, account, seniority, department, created in contacts:
        con.execute(
            "INSERT INTO contacts (contact_key, system, account_key, seniority, department, "
            "created_at) VALUES (?, 'x', ?, ?, ?, ?)",
            [key, account, seniority, department, created],
        )
    return con


def test_a_contact_counts_for_a_deal_only_when_known_by_its_close() -> None:
    day = dt.datetime
    con = _store(
        [
            ("d1", "acme", "won", day(2024, 1, 1), day(2024, 3, 1), False),
            ("d2", "acme", "lost", day(2023, 1, 1), day(2023, 3, 1), False),
            ("d3", "acme", "won", day(2024, 6, 1), day(2024, 8, 1), True),  # expansion
            ("d4", "beta", "open", day(2024, 6, 1), None, False),
        ],
        [
            ("c1", "acme", "VP", "Sales", day(2024, 2, 1)),  # before d1 closed, after d2
            ("c2", "acme", "Individual contributor", "IT", day(2024, 4, 1)),  # after both
            ("c3", "acme", "Manager", "Operations", None),  # undated: counted
        ],
    )
    dc = load_deal_contacts(con)
    assert len(dc) == 2  # closed new-business deals only
    by_deal = {
        i: sorted(s for d, s in zip(dc.deal.tolist(), dc.seniority.tolist(), strict=True) if d == i)
        for i in range(len(dc))
    }
    won_index = int(np.flatnonzero(dc.won)[0])
    lost_index = 1 - won_index
    assert by_deal[won_index] == ["Manager", "VP"]
    assert by_deal[lost_index] == ["Manager"]
    assert dc.after_close == 3  # c1 after d2, c2 after d1 and after d2
    assert dc.contacts == 3


def test_persona_roles_gained_and_lost_are_a_change_between_versions() -> None:
    from icpkit.icp.diff import diff_icps, format_diff
    from icpkit.icp.model import ICP, BuyerPersona, PersonaRole

    base = ICP(derived_at=dt.datetime(2025, 1, 1), data_fingerprint="same")
    vp = PersonaRole(seniority="VP", department="Sales")
    ops = PersonaRole(seniority="Manager", department="Operations")
    old = base.model_copy(update={"persona": BuyerPersona(roles=[vp])})
    new = base.model_copy(update={"persona": BuyerPersona(roles=[ops])})
    diff = diff_icps(old, new)
    assert not diff.is_empty
    assert format_diff(diff) == ["+ persona Manager in Operations", "- persona VP in Sales"]
    assert diff_icps(old, old).is_empty
    assert diff_icps(base, base).is_empty


def test_roles_too_rare_to_test_are_named_as_such_not_as_a_count_of_zero() -> None:
    won = [i % 3 == 0 for i in range(300)]
    labels = [[("VP", "Sales")] if i < 3 else [] for i in range(300)]
    result = analyze_persona(deal_contacts(won, labels), SETTINGS)
    assert result.roles == []
    assert result.sentences() == [
        "No persona: no role is held by enough accounts, on the won and on the lost side, "
        "to be tested."
    ]
