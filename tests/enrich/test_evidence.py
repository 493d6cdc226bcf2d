"""Reasons that name where an enriched value came from: the words of each kind of source
and their SQL twin, the JSON of a file's ``enriched_from`` column, and scoring in the
workspace, where a reason resting on an enriched value names its source and day while a
value from the CRM export keeps its plain words (websites served on loopback)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from icpkit.config import EnrichSettings, save_settings
from icpkit.enrich.context import Context
from icpkit.enrich.dns import Records
from icpkit.enrich.evidence import (
    Evidence,
    account_evidence,
    evidence_text,
    from_json,
    page_of,
    page_sql,
    rule_keys,
    text_sql,
    to_json,
)
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.run import enrich, targets_of
from icpkit.icp.model import ICP, Criterion, IntentSignal, ScoringModel, dump_icp
from icpkit.workspace import Workspace
from loopback import Web

DAY = dt.date(2026, 11, 30)
HUBSPOT = '<script id="hs-script-loader" async defer src="//js.hs-scripts.com/2141.js"></script>'


def record(
    provider: str, url: str | None, day: dt.date | None = DAY, field: str = "tech", value: str = ""
) -> Evidence:
    """An observation's evidence as the store's reader makes it: the page judged from it."""
    return Evidence(provider, url, day, page_of(provider, field, url, value))


# -- the words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (record("technographics", "https://acme.com/"), "seen on homepage, 2026-11-30"),
        (record("website", "https://acme.com/about-us", field="employees"),
         "seen on about page, 2026-11-30"),
        (record("technographics", "https://acme.com/careers/"), "seen on careers page, 2026-11-30"),
        (record("technographics", "https://acme.com/pricing"), "seen on pricing page, 2026-11-30"),
        (record("technographics", "https://acme.com/blog/post"), "seen on the website, 2026-11-30"),
        (record("technographics", "dns:TXT acme.com"), "DNS TXT record, 2026-11-30"),
        (record("technographics", "dns:MX acme.com"), "DNS MX record, 2026-11-30"),
        (record("pdl", "https://api.peopledatalabs.com/v5/company/enrich?website=acme.com",
                dt.date(2026, 11, 28), "employees"), "People Data Labs, 2026-11-28"),
        (record("apollo", "https://api.apollo.io/api/v1/organizations/enrich?domain=acme.com"),
         "Apollo, 2026-11-30"),
        (record("hiring", "https://boards.greenhouse.io/acme/jobs/4012", dt.date(2026, 11, 12),
                "signal:job_posting", "SDR"), "Greenhouse posting, 2026-11-12"),
        (record("hiring", "https://jobs.eu.lever.co/acme/1b2c", dt.date(2026, 11, 12),
                "signal:job_posting", "AE"), "Lever posting, 2026-11-12"),
        (record("hiring", None, dt.date(2026, 11, 12), "signal:job_posting", "SDR"),
         "job posting, 2026-11-12"),
        (record("edgar", "https://www.sec.gov/Archives/edgar/data/1/0001-index.htm",
                dt.date(2026, 6, 1), "signal:funding_round", "Form D $20M"),
         "SEC Form D, 2026-06-01"),
        (record("edgar", "https://www.sec.gov/Archives/edgar/data/1/0002-index.htm",
                dt.date(2026, 7, 9), "signal:leadership_change", "Form 8-K item 5.02"),
         "SEC Form 8-K, 2026-07-09"),
        (record("edgar", "https://data.sec.gov/submissions/CIK0000000001.json", field="industry"),
         "SEC EDGAR, 2026-11-30"),
        (record("clay", "file:clay.csv:line 12", dt.date(2026, 11, 2), "employees"),
         "your file clay.csv, 2026-11-02"),
        (record("research", "https://www.acme.com/about/", field="answer:sells_to_enterprise"),
         "research, acme.com/about, 2026-11-30"),
        (record("zoominfo_export", None), "zoominfo_export, 2026-11-30"),
        (record("pdl", None, None, "employees"), "People Data Labs"),
    ],
)  # fmt: skip
def test_each_kind_of_source_is_named_with_its_day(evidence: Evidence, words: str) -> None:
    assert evidence_text(evidence) == words


def test_the_sql_words_agree_with_the_python_words_for_every_kind_of_source() -> None:
    providers = ["technographics", "website", "research", "hiring", "edgar", "pdl", "clay", "x"]
    urls = [
        None, "https://acme.com", "https://www.Acme.com/About/", "http://acme.com/careers?x=1",
        "https://acme.com/plans#top", "https://acme.com/blog", "dns:TXT acme.com",
        "dns:mx acme.com", "file:clay.csv:line 3", "file:My Export.xlsx:row 9",
        "https://boards.greenhouse.io/acme/jobs/1", "https://api.ashbyhq.com/posting-api/x",
        "https://apply.workable.com/acme/j/1", "https://jobs.smartrecruiters.com/Acme/9",
        "https://greenhouse.io.evil.com/acme", "ftp://acme.com/", "not a url",
    ]  # fmt: skip
    fields = [
        ("tech", None),
        ("employees", None),
        ("signal:funding_round", "Form D $5M"),
        ("signal:leadership_change", "Form 8-K item 5.02"),
        ("signal:other", "x"),
    ]
    grid = [
        (p, u, f, v, d) for p in providers for u in urls for f, v in fields for d in (DAY, None)
    ]
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (i INTEGER, provider VARCHAR, url VARCHAR, field VARCHAR, "
        "value VARCHAR, day DATE)"
    )
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", [(i, *g) for i, g in enumerate(grid)]
    )
    page = page_sql("provider", "field", "url", "value")
    rows = con.execute(
        f"SELECT i, page, {text_sql('provider', 'url', 'page', 'day')} "
        f"FROM (SELECT *, {page} AS page FROM t) ORDER BY i"
    ).fetchall()
    for (i, page_in_sql, words_in_sql), (p, u, f, v, d) in zip(rows, grid, strict=True):
        expected = record(p, u, d, f, v or "")
        assert (page_in_sql, words_in_sql) == (expected.page, evidence_text(expected)), grid[i]


def test_the_enriched_from_json_holds_every_record_and_reads_back() -> None:
    records = {
        "tech:HubSpot": record("technographics", "https://acme.com/"),
        "employees": Evidence("pdl", None, dt.date(2026, 11, 28)),
        "signal:job_posting:SDR": record(
            "hiring", "https://boards.greenhouse.io/acme/jobs/1", dt.date(2026, 11, 12)
        ),
    }
    text = to_json(records)
    assert json.loads(text)["tech:HubSpot"] == {
        "provider": "technographics", "url": "https://acme.com/", "at": "2026-11-30",
        "page": "homepage",
    }  # fmt: skip
    assert from_json(text) == records


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"employees": "pdl"}', "'employees': an object with a provider"),
        ('{"employees": {"provider": "pdl", "at": "28/11/2026"}}', "at '28/11/2026'"),
        ('{"tech:X": {"provider": "pdl", "url": 3}}', "'tech:X': url 3 is not text"),
    ],
)
def test_a_bad_enriched_from_cell_says_which_key_and_value_are_wrong(
    cell: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        from_json(cell)


def test_a_rule_rests_on_the_fields_it_reads() -> None:
    tools = Criterion(source="derived", id="t", attribute="tech", values=["HubSpot", "Salesforce"])
    assert rule_keys(tools) == ["tech:HubSpot", "tech:Salesforce"]
    assert rule_keys(
        Criterion(source="derived", id="a", attribute="company_age", values=["0-2 years"])
    ) == ["founded_year"]
    assert rule_keys(
        Criterion(source="derived", id="q", attribute="answer:crm", values=["HubSpot"])
    ) == ["answer:crm"]
    # A stack's size mixes sources; an unknown value has none.
    assert (
        rule_keys(
            Criterion(source="derived", id="s", attribute="stack_density", values=["3-5 tools"])
        )
        == []
    )
    assert rule_keys(Criterion(source="derived", id="m", attribute="employees", missing=True)) == []


# -- scoring in the workspace -------------------------------------------------------------


class NoDns:
    async def records(self, domain: str) -> Records:
        return Records()


def icp_of(*rules: Criterion | IntentSignal) -> ICP:
    fit = [r for r in rules if isinstance(r, Criterion)]
    intent = [r for r in rules if isinstance(r, IntentSignal)]
    return ICP(
        derived_at=dt.datetime(2026, 11, 1),
        data_fingerprint="evidence",
        fit=fit,
        intent=intent,
        scoring=ScoringModel(method="hand-made", intercept=-1.0, deals=0, wins=0),
    )


def with_icp(ws: Workspace, icp: ICP) -> Workspace:
    ws.settings.icp = dump_icp(icp)
    save_settings(ws.settings, ws.config_path)
    return Workspace.open(ws.root)


def accounts_file(ws: Workspace, path: Path) -> Path:
    """The workspace's accounts in the input layout, as a warehouse extract holds them."""
    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        con.execute(
            "COPY (SELECT account_key, name, domain, employees, industry, country, technologies "
            f"FROM accounts ORDER BY account_key) TO '{path}' (FORMAT PARQUET)"
        )
    finally:
        con.close()
    return path


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


HUBSPOT_RULE = Criterion(source="derived", id="hubspot", attribute="tech", values=["HubSpot"],
                         weight=0.8)  # fmt: skip


@pytest.fixture
def enriched(tmp_path: Path, web: Web) -> Workspace:
    """Alpha's export names no tool, and its homepage runs HubSpot; Beta's export lists
    HubSpot, and so does its homepage."""
    web.route("alpha.com", "/", f"<html><head><title>Alpha</title></head><body>{HUBSPOT}</body>")
    web.route("beta.io", "/", f"<html><head><title>Beta</title></head><body>{HUBSPOT}</body>")
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Record ID,Company name,Company Domain Name,Technologies\n"
        "1,Alpha,alpha.com,\n"
        "2,Beta,beta.io,HubSpot\n"
    )
    assert ws.ingest([companies]).ok
    result = ws.enrich(["technographics"], connect_to=web.connect_to, resolver=NoDns())
    assert all(t.failed == 0 for t in result.tallies)
    return with_icp(ws, icp_of(HUBSPOT_RULE))


def test_a_tool_seen_on_the_homepage_names_its_source_and_day_in_the_reason(
    enriched: Workspace, tmp_path: Path
) -> None:
    before = utc_today()
    scored = enriched.score_file(accounts_file(enriched, tmp_path / "accounts.parquet"))
    after = utc_today()
    rows = {r["account_key"]: r for r in scored.rows()}
    points = scored.scorecard.rules[0].points
    assert points > 0
    assert rows["alpha.com"]["top_reasons"] in {
        f"Uses HubSpot (seen on homepage, {day.isoformat()}) (+{points})" for day in (before, after)
    }
    # The CRM's own HubSpot keeps the CRM's words, though the homepage shows it too.
    assert rows["beta.io"]["top_reasons"] == f"Uses HubSpot (+{points})"
    # The compiled SELECT (what `icp sql` gives other engines) holds only the bare reasons.
    assert "seen on" not in scored.sql
    assert "seen on" not in enriched.sql("duckdb")


def test_the_api_words_the_reasons_as_icp_score_does(enriched: Workspace, tmp_path: Path) -> None:
    """The scoring API reads the workspace's evidence once, when it loads, and names the
    same sources in the same words as `icp score`."""
    from icpkit.serve.scorer import Account, Scorer

    day = utc_today()
    scored = enriched.score_file(accounts_file(enriched, tmp_path / "a.parquet"), as_of=day)
    expected = {r["account_key"]: (r["top_reasons"], r["negative_reasons"]) for r in scored.rows()}
    scorer = Scorer(enriched.require_icp(), enriched.settings, enriched.store_path)
    try:
        rows = scorer.score(
            [
                Account({"account_key": "alpha.com", "technologies": "HubSpot"}),
                Account({"account_key": "beta.io", "technologies": "HubSpot"}),
            ],
            day,
        )
    finally:
        scorer.close()
    got = {r["account_key"]: (r["top_reasons"], r["negative_reasons"]) for r in rows}
    assert got == expected
    assert "seen on homepage" in got["alpha.com"][0]


def test_a_written_file_carries_the_same_reasons_as_the_rows(
    enriched: Workspace, tmp_path: Path
) -> None:
    path = accounts_file(enriched, tmp_path / "accounts.parquet")
    rows = {r["account_key"]: r["top_reasons"] for r in enriched.score_file(path).rows()}
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"scored{suffix}"
        enriched.score_file(path, out=out)
        con = duckdb.connect()
        written = dict(
            con.execute(
                f"SELECT account_key, top_reasons FROM '{out}' WHERE account_key IS NOT NULL"
            ).fetchall()
        )
        assert written == rows
        assert "seen on homepage" in written["alpha.com"]


def test_the_store_knows_which_source_each_enriched_value_came_from(
    enriched: Workspace,
) -> None:
    with enriched.connect(read_only=True) as con:
        evidence = account_evidence(con, enriched.settings.enrich)
    assert set(evidence) == {"alpha.com"}  # Beta's HubSpot is the CRM's
    (seen,) = evidence["alpha.com"].values()
    assert list(evidence["alpha.com"]) == ["tech:HubSpot"]
    assert (seen.provider, seen.page, seen.url) == (
        "technographics",
        "homepage",
        "http://alpha.com/",
    )


def test_a_files_own_enriched_from_column_names_the_source_of_its_rows(
    enriched: Workspace, tmp_path: Path
) -> None:
    own = to_json({"tech:HubSpot": Evidence("apollo", None, dt.date(2026, 11, 2))})
    rows = [
        # a company the workspace does not hold: its own record names the source
        {"account_key": "gamma.org", "technologies": ["HubSpot"], "enriched_from": own},
        # its file says nothing of the tool's source: the plain reason
        {"account_key": "alpha.com", "technologies": ["HubSpot"], "enriched_from": None},
        {"account_key": "delta.net", "technologies": ["HubSpot"], "enriched_from": "{broken"},
    ]
    path = tmp_path / "universe.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    scored = {r["account_key"]: r for r in enriched.score_file(path).rows()}
    points = enriched.require_icp().fit[0]
    assert points.id == "hubspot"
    assert scored["gamma.org"]["top_reasons"].startswith("Uses HubSpot (Apollo, 2026-11-02) (+")
    assert scored["alpha.com"]["top_reasons"].startswith("Uses HubSpot (+")
    assert scored["delta.net"]["top_reasons"].startswith("Uses HubSpot (+")
    assert scored["gamma.org"]["enriched_from"] == own  # the column passes through


# -- the waterfall decides, and dated signals name their posting ----------------------------


@dataclass
class Fake:
    """A provider answering from a table: domain -> observations."""

    name: str
    answers: dict[str, list[Observation]]
    fields: frozenset[str] = frozenset({"employees", "tech", "signal:job_posting"})
    cost: float = 0.0
    rate: float | None = None
    batch_size: int = 10
    ttl_days: float = 30.0
    keyless: bool = True
    asked: list[str] = field(default_factory=list)

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return [
            Lookup.of(t.account_key, self.answers.get(t.domain or "", []), "nothing known")
            for t in targets
        ]


POSTED = dt.datetime(2026, 11, 12, 9, 30)
BOARD = "https://boards.greenhouse.io/acme/jobs/4012"


@pytest.fixture
def hiring(tmp_path: Path) -> Workspace:
    """Acme and Initech: a head count from PDL and an SDR posting on Greenhouse each; the
    export gives Initech its own head count, and Globex an SDR posting of the same day."""
    ws = Workspace.init(tmp_path / "ws")
    companies = tmp_path / "companies.csv"
    companies.write_text(
        "Record ID,Company name,Company Domain Name,Number of Employees\n"
        "1,Acme,acme.com,\n2,Initech,initech.io,150\n3,Globex,globex.com,\n"
    )
    signals = tmp_path / "signals.csv"
    signals.write_text(
        "Company Domain,Signal Type,Detail,Date\nglobex.com,job_posting,SDR,2026-11-12\n"
    )
    assert ws.ingest([companies, signals]).ok
    posting = Observation(
        "signal:job_posting", "SDR", 0.9, BOARD, raw="SDR, East", observed_at=POSTED
    )
    pdl = Fake(
        "pdl",
        {
            d: [Observation("employees", "51-200", 0.9, "https://api.peopledatalabs.com/v5/x")]
            for d in ("acme.com", "initech.io")
        },
    )
    board = Fake("hiring", {d: [posting] for d in ("acme.com", "initech.io")})
    answer = Observation(
        "answer:sells_to_enterprise", "yes", 0.9, "https://www.acme.com/about/", evidence="quote"
    )
    research = Fake("research", {"acme.com": [answer]})
    with ws.connect() as con:
        providers = [pdl, board, research]
        settings = EnrichSettings(providers=[p.name for p in providers])
        enrich(con, providers, targets_of(con), settings)
    sdr = IntentSignal(source="derived", id="sdr", signal="job_posting", detail_in=["SDR"],
                       window_days=(0, 90), weight=0.6)  # fmt: skip
    size = Criterion(source="derived", id="size", attribute="employees", min=51, max=200,
                     weight=0.9)  # fmt: skip
    return with_icp(ws, icp_of(size, sdr))


def test_an_enriched_head_count_and_posting_name_their_sources(
    hiring: Workspace, tmp_path: Path
) -> None:
    as_of = dt.date(2026, 11, 24)  # 12 days after the posting
    before = utc_today()
    rows = hiring.score_file(accounts_file(hiring, tmp_path / "a.parquet"), as_of=as_of).rows()
    after = utc_today()
    by_key = {r["account_key"]: r["top_reasons"] for r in rows}
    acme = by_key["acme.com"].split("; ")
    assert acme[0] in {
        f"51-200 employees (People Data Labs, {d.isoformat()}) (+{n})"
        for d in (before, after)
        for n in range(1, 100)
    }
    assert acme[1].startswith("Job posting SDR 12 days ago (Greenhouse posting, 2026-11-12) (+")
    # Initech's export holds its head count (the CRM comes first in the waterfall).
    assert by_key["initech.io"].split("; ")[0].startswith("51-200 employees (+")
    # Globex's SDR posting of the same day is the export's own.
    assert by_key["globex.com"].startswith("Job posting SDR 12 days ago (+")


def test_the_api_names_enriched_sources_as_icp_score_does_with_or_without_a_query(
    hiring: Workspace, tmp_path: Path
) -> None:
    """A few accounts are scored without a query (the scorecard compiled into Python), more
    by the SELECT: both word the sources of head counts and postings as `icp score` does."""
    from icpkit.serve.scorer import Account, Scorer

    day = utc_today()
    path = accounts_file(hiring, tmp_path / "a.parquet")
    scored = hiring.score_file(path, as_of=day)
    expected = {r["account_key"]: (r["top_reasons"], r["negative_reasons"]) for r in scored.rows()}
    accounts = [Account(row) for row in duckdb.sql(f"FROM '{path}'").to_arrow_table().to_pylist()]
    assert len(accounts) == 3
    scorer = Scorer(hiring.require_icp(), hiring.settings, hiring.store_path)
    try:
        by_query = scorer.score(accounts, day)
        few = scorer.score_few(accounts, day)
    finally:
        scorer.close()
    assert few == by_query
    got = {r["account_key"]: (r["top_reasons"], r["negative_reasons"]) for r in few}
    assert got == {k: expected[k] for k in got}
    assert "(Greenhouse posting, 2026-11-12)" in got["acme.com"][0]


def test_a_fresher_crm_signal_keeps_the_plain_reason(hiring: Workspace, tmp_path: Path) -> None:
    as_of = dt.date(2026, 11, 24)
    newer = tmp_path / "newer.csv"
    newer.write_text(
        "Company Domain,Signal Type,Detail,Date\nacme.com,job_posting,SDR,2026-11-20\n"
    )
    assert hiring.ingest([newer]).ok
    rows = hiring.score_file(accounts_file(hiring, tmp_path / "a.parquet"), as_of=as_of).rows()
    acme = next(r["top_reasons"] for r in rows if r["account_key"] == "acme.com")
    assert "Job posting SDR 4 days ago (+" in acme  # the export's posting, 4 days old
    assert "Greenhouse" not in acme


def test_the_store_reads_the_evidence_of_each_kind_of_enriched_value(hiring: Workspace) -> None:
    with hiring.connect(read_only=True) as con:
        evidence = account_evidence(con, hiring.settings.enrich, dt.date(2026, 11, 24))
    acme = evidence["acme.com"]
    assert sorted(acme) == ["answer:sells_to_enterprise", "employees", "signal:job_posting:SDR"]
    assert acme["signal:job_posting:SDR"] == Evidence(
        "hiring", BOARD, dt.date(2026, 11, 12), "job posting"
    )
    assert (acme["employees"].provider, acme["employees"].page) == ("pdl", None)
    answer = acme["answer:sells_to_enterprise"]
    assert evidence_text(answer).startswith("research, acme.com/about, ")
    # Initech's head count is the export's; its posting is the board's.
    assert sorted(evidence["initech.io"]) == ["signal:job_posting:SDR"]
    assert "globex.com" not in evidence  # nothing of Globex came from enrichment
    # A posting after the day asked about is not known on that day.
    with hiring.connect(read_only=True) as con:
        earlier = account_evidence(con, hiring.settings.enrich, dt.date(2026, 11, 1))
    assert "signal:job_posting:SDR" not in earlier.get("acme.com", {})
