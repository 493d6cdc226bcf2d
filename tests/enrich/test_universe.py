"""Enriching a company universe into a file: every row written, values filled by the
waterfall with their provenance, the cache shared (a re-run and a dry run fetch nothing, a
repeated domain is fetched once, a workspace account's answers serve its domain), and the
universe's companies never becoming accounts (websites served on loopback)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import icpkit.enrich
from helpers import run_query
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.evidence import from_json
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.universe import FROM_COLUMN, SIGNALS_COLUMN, UniverseEnrichError, domain_of
from icpkit.operate.universe import UniverseError, create_view
from icpkit.workspace import Workspace
from loopback import Web

PROVIDERS = ["website", "technographics"]
HUBSPOT = '<script id="hs-script-loader" async defer src="//js.hs-scripts.com/2141.js"></script>'


def home(employees: str | None = None, script: str = "") -> str:
    """A homepage: its JSON-LD head count (when given) and a script tag."""
    ld = ""
    if employees is not None:
        doc = {"@context": "https://schema.org", "@type": "Organization",
               "numberOfEmployees": employees}  # fmt: skip
        ld = f'<script type="application/ld+json">{json.dumps(doc)}</script>'
    head = f"<head><title>Home</title>{ld}</head>"
    return f"<!doctype html><html lang='en'>{head}<body>{script}</body></html>"


# A layout file: one domain twice (written two ways), a row with no domain, a domain whose
# site knows nothing, and a row with its own head count.
UNIVERSE = (
    "account_key,name,domain,employees,country,owner\n"
    "alpha.com,Alpha,alpha.com,,USA,ann\n"
    "alpha.com,Alpha again,https://www.alpha.com/about,,US,bob\n"
    "beta.io,Beta,beta.io,40,Germany,\n"
    "name:nodomain,No Domain Co,,12,France,cid\n"
    "gamma.org,Gamma,gamma.org,,,dee\n"
)
COMPANIES = "Record ID,Company name,Company Domain Name\n1,Acme,acme.com\n2,Beta GmbH,beta.io\n"


class NoDns:
    async def records(self, domain: str) -> Records:
        return Records()


@pytest.fixture
def sites(web: Web) -> Web:
    web.route("alpha.com", "/", home("51-200", HUBSPOT))
    web.route("beta.io", "/", home("11-50", HUBSPOT))
    web.route("gamma.org", "/", home())
    web.route("acme.com", "/", home("201-500"))
    return web


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(COMPANIES)
    assert ws.ingest([companies]).ok
    return ws


@pytest.fixture
def universe(tmp_path: Path) -> Path:
    path = tmp_path / "universe.csv"
    path.write_text(UNIVERSE)
    return path


def enrich(ws: Workspace, web: Web, universe: Path, out: Path | None, **kw: object):  # type: ignore[no-untyped-def]
    return ws.enrich_universe(
        universe, out, PROVIDERS, connect_to=web.connect_to, resolver=NoDns(), **kw
    )


def read_rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def homepages(web: Web, host: str) -> int:
    return sum(1 for r in web.asked(host) if r.path == "/")


def test_every_row_is_written_with_the_waterfalls_values_and_their_provenance(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "enriched.parquet"
    result = enrich(workspace, sites, universe, out)
    rows = read_rows(out)
    assert len(rows) == result.rows == result.written == 5  # rows in = rows out
    assert [r["name"] for r in rows] == [
        "Alpha", "Alpha again", "Beta", "No Domain Co", "Gamma"
    ]  # fmt: skip
    assert [r["owner"] for r in rows] == ["ann", "bob", None, "cid", "dee"]  # columns kept
    alpha, again, beta, nodomain, gamma = rows
    for row in (alpha, again):
        assert row["employees"] == 126  # '51-200' read as ingest reads it
        assert row["technologies"] == ["HubSpot"]
        assert row["country"] == "US"
        provenance = from_json(str(row[FROM_COLUMN]))
        assert provenance["employees"].provider == "website"
        assert provenance["tech:HubSpot"].provider == "technographics"
        assert provenance["tech:HubSpot"].page == "homepage"
        assert provenance["tech:HubSpot"].url == "http://alpha.com/"
    # The row's own head count ranks first; the tool it lacked is added.
    assert beta["employees"] == 40 and beta["technologies"] == ["HubSpot"]
    assert set(from_json(str(beta[FROM_COLUMN]))) == {"tech:HubSpot"}
    # No domain: written as read, nothing filled.
    assert nodomain["employees"] == 12 and nodomain["technologies"] is None
    assert nodomain[FROM_COLUMN] is None
    assert result.without_domain == 1
    # A site that knows nothing fills nothing.
    assert gamma["employees"] is None and gamma[FROM_COLUMN] is None
    assert result.domains == 3
    assert result.filled == {"employees": 2}
    assert result.tools_added == 3 and result.rows_with_tools == 3
    assert SIGNALS_COLUMN in rows[0]


def test_provenance_names_when_the_value_was_fetched(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "enriched.parquet"
    enrich(workspace, sites, universe, out)
    (fetched,) = run_query(
        workspace,
        "SELECT max(fetched_at) FROM enrich_lookups WHERE account_key = 'universe:alpha.com'",
    )
    provenance = from_json(str(read_rows(out)[0][FROM_COLUMN]))
    assert provenance["employees"].at == fetched[0].date()


def test_universe_companies_do_not_become_accounts_or_signals(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    before = run_query(workspace, "SELECT account_key FROM accounts ORDER BY 1")
    enrich(workspace, sites, universe, tmp_path / "enriched.parquet")
    assert run_query(workspace, "SELECT account_key FROM accounts ORDER BY 1") == before
    assert run_query(workspace, "SELECT count(*) FROM signals") == [(0,)]
    # Their answers are cached by domain, apart from the accounts' and not in the summary.
    keys = run_query(workspace, "SELECT DISTINCT account_key FROM enrich_lookups ORDER BY 1")
    assert keys == [("beta.io",), ("universe:alpha.com",), ("universe:gamma.org",)]
    assert [s["accounts"] for s in workspace.summary()["enrichment"]] == [1, 1]


def test_a_second_run_fetches_nothing_and_writes_the_same_file(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    enrich(workspace, sites, universe, first)
    asked = len(sites.requests)
    assert asked > 0
    result = enrich(workspace, sites, universe, second)
    assert len(sites.requests) == asked
    assert all(t.asked == 0 and t.cached == 3 for t in result.run.tallies)
    assert read_rows(second) == read_rows(first)


def test_a_dry_run_fetches_nothing_and_writes_nothing(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "enriched.parquet"
    result = enrich(workspace, sites, universe, out, dry_run=True)
    assert sites.requests == []
    assert not out.exists()
    assert [(p.provider, p.accounts, p.to_ask) for p in result.run.plans] == [
        ("website", 3, 3), ("technographics", 3, 3)
    ]  # fmt: skip
    assert result.domains == 3 and result.without_domain == 1


def test_a_domain_repeated_in_the_universe_is_fetched_once(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    enrich(workspace, sites, universe, tmp_path / "enriched.parquet")
    assert homepages(sites, "alpha.com") == 1


def test_a_domain_the_workspace_holds_reuses_the_accounts_cache(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    workspace.enrich(PROVIDERS, connect_to=sites.connect_to, resolver=NoDns())
    assert homepages(sites, "beta.io") == 1
    result = enrich(workspace, sites, universe, tmp_path / "enriched.parquet")
    assert homepages(sites, "beta.io") == 1  # not fetched again
    assert result.accounts == 1
    beta = read_rows(tmp_path / "enriched.parquet")[2]
    assert beta["technologies"] == ["HubSpot"]


def test_a_csv_out_joins_tools_as_the_input_layout_reads_them(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    out = tmp_path / "enriched.csv"
    result = enrich(workspace, sites, universe, out)
    assert result.written == 5
    con = duckdb.connect()
    try:
        create_view(con, out, None)
        rows = con.execute("SELECT name, employees, technologies FROM universe").fetchall()
    finally:
        con.close()
    assert rows[0] == ("Alpha", 126, ["HubSpot"])
    assert rows[3] == ("No Domain Co", 12, None)  # no tools known, as read


def test_a_raw_export_is_read_through_ingestion_and_every_company_written(
    workspace: Workspace, sites: Web, tmp_path: Path
) -> None:
    raw = tmp_path / "vendor.csv"
    raw.write_text(
        "Company name,Website,Number of Employees\n"
        "Alpha,alpha.com,\n"
        "Gamma,gamma.org,5000\n"
        "Zeta,,20\n"
    )
    out = tmp_path / "enriched.parquet"
    result = enrich(workspace, sites, raw, out)
    rows = {r["name"]: r for r in read_rows(out)}
    assert len(rows) == result.rows == 3
    assert rows["Alpha"]["employees"] == 126 and rows["Alpha"]["technologies"] == ["HubSpot"]
    assert rows["Gamma"]["employees"] == 5000
    assert rows["Zeta"][FROM_COLUMN] is None and result.without_domain == 1


def test_unreadable_values_are_reported_with_file_line_column_and_value_and_kept(
    workspace: Workspace, sites: Web, tmp_path: Path
) -> None:
    path = tmp_path / "universe.csv"
    path.write_text("account_key,domain,employees\nalpha.com,alpha.com,lots\nb.io,b.io,12\n")
    out = tmp_path / "enriched.parquet"
    result = enrich(workspace, sites, path, out)
    (warning,) = result.warnings
    assert "universe.csv, line 2, column 'employees', value 'lots'" in warning
    rows = read_rows(out)
    assert len(rows) == 2
    assert rows[0]["employees"] == 126  # unknown in the file: the website's value fills it


def test_a_file_that_is_no_company_list_is_refused_with_its_name(
    workspace: Workspace, sites: Web, tmp_path: Path
) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("when,what\n2026-01-01,lunch\n")
    with pytest.raises(UniverseError, match=r"notes\.csv"):
        enrich(workspace, sites, path, tmp_path / "out.parquet")
    assert sites.requests == []


def test_the_out_file_must_be_parquet_or_csv_and_not_the_universe(
    workspace: Workspace, sites: Web, universe: Path, tmp_path: Path
) -> None:
    with pytest.raises(UniverseEnrichError, match=r"\.parquet or \.csv"):
        enrich(workspace, sites, universe, tmp_path / "out.xlsx")
    with pytest.raises(UniverseEnrichError, match="the universe itself"):
        enrich(workspace, sites, universe, universe)


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("alpha.com", "alpha.com"),
        ("https://www.alpha.com/about", "alpha.com"),
        ("name:alpha", None),
        ("", None),
        ("not a domain", None),
    ],
)
def test_a_rows_domain_is_its_registrable_domain(value: str, domain: str | None) -> None:
    assert domain_of(value) == domain


@dataclass
class Keyed:
    """A keyed provider that knows every company's head count and records what it is asked."""

    name: str = "vendor"
    fields: frozenset[str] = frozenset({"employees"})
    cost: float = 1.0
    rate: float | None = None
    batch_size: int = 1
    ttl_days: float = 90.0
    keyless: bool = False
    asked: list[str] = field(default_factory=list)

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        self.asked.extend(t.domain or "" for t in targets)
        return [
            Lookup(t.account_key, "found", [Observation("employees", "300")], credits=1.0)
            for t in targets
        ]  # fmt: skip


def test_a_keyed_provider_is_asked_only_where_the_row_and_earlier_sources_leave_a_gap(
    workspace: Workspace,
    sites: Web,
    universe: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vendor = Keyed()
    real = icpkit.enrich.make_provider
    monkeypatch.setattr(
        icpkit.enrich, "make_provider",
        lambda name, *a: vendor if name == vendor.name else real(name, *a),
    )  # fmt: skip
    out = tmp_path / "enriched.parquet"
    result = workspace.enrich_universe(
        universe, out, ["website", vendor.name], connect_to=sites.connect_to, resolver=NoDns()
    )
    # alpha.com: the website (ranked before the vendor) gave a head count; beta.io: the row
    # has its own; gamma.org: nobody has one, so only it is worth a credit.
    assert vendor.asked == ["gamma.org"]
    tally = next(t for t in result.run.tallies if t.provider == vendor.name)
    assert (tally.asked, tally.skipped, tally.credits) == (1, 2, 1.0)
    gamma = read_rows(out)[4]
    assert gamma["employees"] == 300
    assert from_json(str(gamma[FROM_COLUMN]))["employees"].provider == vendor.name


@dataclass
class Postings:
    """A keyless provider that sees two SDR postings and an AE posting on every company."""

    name: str = "hiring"  # as the job-board provider is named
    fields: frozenset[str] = frozenset({"signal:job_posting"})
    cost: float = 0.0
    rate: float | None = None
    batch_size: int = 1
    ttl_days: float = 7.0
    keyless: bool = True

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        def posting(role: str, day: int) -> Observation:
            url = f"https://boards.greenhouse.io/x/jobs/{day}"
            return Observation(
                "signal:job_posting", role, 1.0, url, observed_at=dt.datetime(2026, 11, day)
            )

        seen = [posting("SDR", 2), posting("SDR", 12), posting("AE", 5)]
        return [Lookup(t.account_key, "found", seen) for t in targets]


def test_dated_events_are_listed_in_the_file_not_as_signals_of_companies_never_ingested(
    workspace: Workspace, universe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boards = Postings()
    monkeypatch.setattr(icpkit.enrich, "make_provider", lambda name, *a: boards)
    out = tmp_path / "enriched.parquet"
    result = workspace.enrich_universe(universe, out, [boards.name])
    alpha = read_rows(out)[0]
    events = json.loads(str(alpha[SIGNALS_COLUMN]))
    assert [(e["type"], e["detail"], e["day"]) for e in events] == [
        ("job_posting", "SDR", "2026-11-12"),
        ("job_posting", "AE", "2026-11-05"),
        ("job_posting", "SDR", "2026-11-02"),
    ]
    # The evidence names the newest event of each role, on its own day.
    evidence = from_json(str(alpha[FROM_COLUMN]))
    assert evidence["signal:job_posting:SDR"].at == dt.date(2026, 11, 12)
    assert evidence["signal:job_posting:SDR"].page == "job posting"
    assert set(evidence) == {"signal:job_posting:SDR", "signal:job_posting:AE"}
    assert result.signals == 3 * 4  # four rows with a domain (alpha twice, beta, gamma)
    # Only beta.io, a workspace account whose answers are its own, gets signals in the store.
    assert run_query(workspace, "SELECT DISTINCT account_key FROM signals") == [("beta.io",)]
    assert read_rows(out)[3][SIGNALS_COLUMN] is None  # the row without a domain


def write_tech_crm(root: Path) -> Workspace:
    """A workspace whose won accounts run HubSpot and whose lost ones run Pipedrive, so the
    derived ICP has a technographic fit rule (tech HubSpot)."""
    companies = ["Record ID,Company name,Company Domain Name,Number of Employees,Web Technologies"]
    deals = ["Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company IDs"]
    for i in range(80):
        hub = i % 2 == 0
        wins = (i % 10 != 0) if hub else (i % 10 == 1)  # 80% of HubSpot users win, 20% of others
        companies.append(f"{1000 + i},Co {i},co{i}.com,60,{'HubSpot' if hub else 'Pipedrive'}")
        for n in range(2):
            month = 1 + (2 * i + n) % 12
            stage = "Closed Won" if wins else "Closed Lost"
            deals.append(
                f"{9000 + 2 * i + n},Deal,{stage},1000,2024-{month:02d}-20,2024-{month:02d}-01,"
                f"{1000 + i}"
            )
    (root / "companies.csv").write_text("\n".join(companies) + "\n")
    (root / "deals.csv").write_text("\n".join(deals) + "\n")
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv", root / "deals.csv"]).ok
    return ws


@pytest.mark.slow
def test_tools_found_on_the_websites_make_the_icps_technographic_rule_match_in_tam_and_score(
    web: Web, tmp_path: Path
) -> None:
    ws = write_tech_crm(tmp_path)
    icp = ws.derive().icp
    assert any(c.attribute == "tech" and c.values == ["HubSpot"] for c in icp.fit)
    prospects = tmp_path / "prospects.csv"
    prospects.write_text(
        "account_key,name,employees\n" + "".join(f"new{i}.com,New {i},60\n" for i in range(10))
    )
    for i in range(10):  # half the prospects run HubSpot on their sites
        web.route(f"new{i}.com", "/", home(script=HUBSPOT if i < 5 else ""))
    assert ws.tam(prospects).current.tam == 0  # no tools known: the rule matches nobody

    out = tmp_path / "prospects_enriched.parquet"
    enrich(ws, web, prospects, out)
    assert ws.tam(out).current.tam == 5
    scored = pq.read_table(
        ws.score_file(out, out=tmp_path / "scored.parquet").out  # type: ignore[arg-type]
    ).to_pylist()
    fit = {row["account_key"]: row["fit"] for row in scored}
    # The reason names where the tool was seen, from the file's enriched_from.
    reasons = {row["account_key"]: row["top_reasons"] for row in scored}
    assert re.match(r"Uses HubSpot \(seen on homepage, \d{4}-\d\d-\d\d\)", reasons["new0.com"])
    assert min(fit[f"new{i}.com"] for i in range(5)) > max(fit[f"new{i}.com"] for i in range(5, 10))


@dataclass
class Researcher:
    """A keyless provider answering one research question for every company but gamma.org,
    which the universe answered itself."""

    name: str = "research"
    fields: frozenset[str] = frozenset({"answer:sells_to_enterprise"})
    cost: float = 0.0
    rate: float | None = None
    batch_size: int = 1
    ttl_days: float = 90.0
    keyless: bool = True

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        answer = Observation("answer:sells_to_enterprise", "yes", 0.9, "https://x.com/about")
        return [Lookup(t.account_key, "found", [answer]) for t in targets]


def test_answers_fill_their_answer_column_where_the_row_has_none(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "universe.csv"
    path.write_text(
        "account_key,domain,answer_sells_to_enterprise\n"
        "alpha.com,alpha.com,\n"
        "gamma.org,gamma.org,no\n"
    )
    research = Researcher()
    monkeypatch.setattr(icpkit.enrich, "make_provider", lambda name, *a: research)
    out = tmp_path / "enriched.parquet"
    result = workspace.enrich_universe(path, out, [research.name])
    alpha, gamma = read_rows(out)
    assert alpha["answer_sells_to_enterprise"] == "yes"
    assert from_json(str(alpha[FROM_COLUMN]))["answer:sells_to_enterprise"].provider == "research"
    assert gamma["answer_sells_to_enterprise"] == "no"  # the row's own answer stays
    assert gamma[FROM_COLUMN] is None
    assert result.answers == 1
