"""An enrichment run: the cache and resuming, the waterfall, the budget, provenance, and the
enriched values read by the store as any other (fake providers: no network here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import run_query
from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.run import enrich, targets_of
from icpkit.workspace import Workspace
from loopback import Web

COMPANIES = (
    "Record ID,Company name,Company Domain Name,Number of Employees,Industry\n"
    "1,Acme,acme.com,,\n"
    "2,Globex,globex.com,5000,Manufacturing\n"
    "3,Initech,initech.io,,Software\n"
)


@dataclass
class Fake:
    """A provider answering from a table: domain -> observations (absent: a miss)."""

    name: str
    answers: dict[str, list[Observation]]
    fields: frozenset[str] = frozenset({"employees", "industry", "tech"})
    cost: float = 0.0
    rate: float | None = None
    batch_size: int = 1
    ttl_days: float = 30.0
    keyless: bool = True
    asked: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        out = []
        for t in targets:
            self.asked.append(t.domain or "")
            if t.domain in self.fail:
                out.append(
                    Lookup.failed(t.account_key, f"https://{t.domain}/: timed out after 3 s")
                )
                continue
            found = self.answers.get(t.domain or "", [])
            lookup = Lookup.of(t.account_key, found, "nothing known")
            lookup.credits = self.cost  # every call is charged
            out.append(lookup)
        return out


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(COMPANIES)
    assert ws.ingest([companies]).ok
    return ws


def run(ws: Workspace, providers: list[Fake], **kw: object) -> object:
    settings = kw.pop("settings", None) or EnrichSettings(providers=[p.name for p in providers])
    with ws.connect() as con:
        return enrich(con, providers, targets_of(con), settings, **kw)  # type: ignore[arg-type]


def site() -> Fake:
    return Fake(
        "website",
        {
            "acme.com": [
                Observation("employees", "120", 0.9, "https://acme.com/", evidence="JSON-LD"),
                Observation("industry", "511210", 0.9, "https://acme.com/"),
                Observation(
                    "tech", "HubSpot", 1.0, "https://acme.com/", evidence="js.hs-scripts.com"
                ),
            ],
            "globex.com": [Observation("employees", "40", 0.9, "https://globex.com/")],
        },
    )


def test_enriched_values_fill_the_crms_gaps_and_never_overwrite_its_own(
    workspace: Workspace,
) -> None:
    run(workspace, [site()])
    rows = dict(
        (r[0], r[1:])
        for r in run_query(
            workspace, "SELECT domain, employees, industry, technologies FROM accounts"
        )
    )
    assert rows["acme.com"] == (120, "Software", ["HubSpot"])
    assert rows["globex.com"][0] == 5000  # the CRM's own head count wins by default
    assert rows["initech.io"] == (None, "Software", None)


def test_a_waterfall_that_ranks_a_provider_first_overrides_the_crm_and_can_be_undone(
    workspace: Workspace,
) -> None:
    first = EnrichSettings(providers=["website"], waterfall={"employees": ["website", "crm"]})
    run(workspace, [site()], settings=first)
    assert run_query(workspace, "SELECT employees FROM accounts WHERE domain = 'globex.com'") == [
        (40,)
    ]
    # Applying again with the CRM first restores the CRM's value (kept beside the override).
    run(workspace, [site()], settings=EnrichSettings(providers=["website"]))
    assert run_query(workspace, "SELECT employees FROM accounts WHERE domain = 'globex.com'") == [
        (5000,)
    ]


def test_a_second_run_uses_the_cache_and_refresh_asks_again(workspace: Workspace) -> None:
    provider = site()
    run(workspace, [provider])
    assert sorted(provider.asked) == ["acme.com", "globex.com", "initech.io"]
    provider.asked.clear()
    result = run(workspace, [provider])
    assert provider.asked == []
    assert result.tallies[0].cached == 3  # type: ignore[attr-defined]
    run(workspace, [provider], refresh=True)
    assert len(provider.asked) == 3


def test_failures_are_recorded_per_account_and_asked_again_next_run(workspace: Workspace) -> None:
    provider = site()
    provider.fail = {"globex.com"}
    result = run(workspace, [provider])
    tally = result.tallies[0]  # type: ignore[attr-defined]
    assert (tally.found, tally.missed, tally.failed) == (1, 1, 1)
    assert tally.reasons == {"timed out after 3 s": 1, "nothing known": 1}
    reason = run_query(
        workspace,
        "SELECT status, reason FROM enrich_lookups WHERE account_key = 'globex.com'",
    )
    assert reason == [("failed", "https://globex.com/: timed out after 3 s")]
    provider.asked.clear()
    provider.fail = set()
    run(workspace, [provider])
    assert provider.asked == ["globex.com"]  # only the failure is asked again


def test_a_keyed_provider_is_asked_only_where_the_waterfall_needs_it_and_within_budget(
    workspace: Workspace,
) -> None:
    keyed = Fake(
        "pdl",
        {d: [Observation("employees", "77", 0.8)] for d in ("acme.com", "initech.io")},
        fields=frozenset({"employees"}),
        cost=1.0,
        keyless=False,
    )
    settings = EnrichSettings(providers=["pdl"])
    result = run(workspace, [keyed], settings=settings, budget=1.0)
    # globex.com has the CRM's head count: not asked. One credit: one of the other two.
    assert "globex.com" not in keyed.asked
    assert len(keyed.asked) == 1
    assert result.stopped == "budget"  # type: ignore[attr-defined]
    assert result.tallies[0].unasked == 1  # type: ignore[attr-defined]
    keyed.asked.clear()
    run(workspace, [keyed], settings=settings, budget=5.0)  # resumes: only the one left
    assert len(keyed.asked) == 1


def test_a_dry_run_fetches_nothing_and_counts_what_would_be_asked(workspace: Workspace) -> None:
    provider = site()
    keyed = Fake("pdl", {}, cost=2.0, keyless=False)
    result = run(workspace, [provider, keyed], dry_run=True)
    assert provider.asked == [] and keyed.asked == []
    plans = {p.provider: p for p in result.plans}  # type: ignore[attr-defined]
    assert (plans["website"].to_ask, plans["website"].credits) == (3, 0.0)
    assert (plans["pdl"].to_ask, plans["pdl"].credits) == (3, 6.0)
    assert run_query(workspace, "SELECT count(*) FROM enrich_lookups") == [(0,)]


def test_every_value_keeps_its_provenance(workspace: Workspace) -> None:
    run(workspace, [site()])
    info = workspace.enrichment("acme.com")
    tech = next(o for o in info["observations"] if o["field"] == "tech")
    assert tech["provider"] == "website"
    assert tech["source_url"] == "https://acme.com/"
    assert tech["evidence"] == "js.hs-scripts.com"
    assert isinstance(tech["fetched_at"], dt.datetime)
    industry = next(o for o in info["observations"] if o["field"] == "industry")
    assert (industry["value"], industry["raw_value"]) == ("Software", "511210")


def test_disagreeing_sources_are_kept_and_shown(workspace: Workspace) -> None:
    run(workspace, [site()])
    found = workspace.enrichment_conflicts()
    # globex.com: the CRM says 5,000 employees, the website 40.
    assert found.per_field == {"employees": 1}
    (conflict,) = found.shown
    assert conflict.values == {"crm": "5000", "website": "40"}
    assert conflict.winner == "5000"


def test_dated_signals_become_signals_with_their_source(workspace: Workspace) -> None:
    day = dt.datetime(2025, 3, 1)
    hiring = Fake(
        "hiring",
        {
            "acme.com": [
                Observation("signal:job_posting", "SDR", 1.0, "https://boards/1", observed_at=day)
            ]
        },
        fields=frozenset({"signal:job_posting"}),
    )
    run(workspace, [hiring])
    rows = run_query(
        workspace,
        "SELECT account_key, signal_type, detail, observed_at, source FROM signals",
    )
    assert rows == [("acme.com", "job_posting", "SDR", day, "enrich:hiring")]
    run(workspace, [hiring], refresh=True)  # applied again: still one row
    assert run_query(workspace, "SELECT count(*) FROM signals") == [(1,)]


@pytest.mark.slow
def test_a_reimport_of_the_crm_keeps_enriched_values_in_its_gaps(
    workspace: Workspace, tmp_path: Path
) -> None:
    run(workspace, [site()])
    again = tmp_path / "again.csv"
    again.write_text(COMPANIES.replace("1,Acme,acme.com,,", "1,Acme,acme.com,300,"))
    assert workspace.ingest([again], force=True).ok
    rows = dict(run_query(workspace, "SELECT domain, employees FROM accounts"))
    assert rows["acme.com"] == 300  # the CRM now has its own value: it wins
    rows = dict(run_query(workspace, "SELECT domain, industry FROM accounts"))
    assert rows["acme.com"] == "Software"  # still only enrichment knows it


@pytest.mark.slow
def test_a_store_of_the_version_before_enrichment_is_upgraded_when_opened(
    workspace: Workspace,
) -> None:
    import duckdb

    con = duckdb.connect(str(workspace.store_path))
    for table in ("enrich_lookups", "enrich_observations", "enrich_runs"):
        con.execute(f"DROP TABLE {table}")
    con.execute("ALTER TABLE accounts DROP COLUMN enriched")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    run(workspace, [site()])  # opening for writing upgrades the store, then the run stores
    assert run_query(workspace, "SELECT count(*) FROM enrich_lookups") == [(3,)]
    assert run_query(workspace, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]


@pytest.mark.slow
def test_a_run_shared_among_processes_stores_every_processs_answers(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    from icpkit.enrich import make_provider, run

    here: list[int] = []  # accounts this process crawled itself
    crawl = run.crawl_accounts

    async def counted(ctx: Context, providers: object, queue: list[Target], *a: object) -> None:
        here.append(len(queue))
        await crawl(ctx, providers, queue, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "crawl_accounts", counted)

    domains = [f"shop{i}.com" for i in range(6)]
    for i, domain in enumerate(domains):
        script = "https://js.hs-scripts.com/1.js" if i % 2 else "/static/app.js"
        web.route(domain, "/", f"<html><head><script src='{script}'></script></head></html>")
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Record ID,Company name,Company Domain Name\n"
        + "".join(f"{i},Shop {i},{d}\n" for i, d in enumerate(domains))
    )
    assert ws.ingest([companies]).ok
    settings = EnrichSettings(
        providers=["technographics"], processes=2, connect_to=web.connect_to, timeout_s=5.0
    )
    with ws.connect() as con:
        provider = make_provider("technographics", settings, {})
        result = enrich(con, [provider], targets_of(con), settings)
    (tally,) = result.tallies
    assert (tally.asked, tally.found, tally.missed) == (6, 3, 3)
    with_hubspot = run_query(
        ws, "SELECT domain FROM accounts WHERE list_contains(technologies, 'HubSpot') ORDER BY 1"
    )
    assert [d for (d,) in with_hubspot] == ["shop1.com", "shop3.com", "shop5.com"]
    assert here == [3]  # half here, the other half in the second process
    assert {r.host for r in web.asked()} == set(domains)


def test_tools_no_source_sees_any_more_go_back_to_unknown_not_to_an_empty_stack(
    workspace: Workspace,
) -> None:
    provider = site()
    run(workspace, [provider])
    stack = "SELECT technologies FROM accounts WHERE domain = 'acme.com'"
    assert run_query(workspace, stack) == [(["HubSpot"],)]
    provider.answers["acme.com"] = [o for o in provider.answers["acme.com"] if o.field != "tech"]
    run(workspace, [provider], refresh=True)
    assert run_query(workspace, stack) == [(None,)]  # the CRM never said: still unknown
