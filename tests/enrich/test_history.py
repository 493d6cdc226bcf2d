"""Enriched values as dated history: successive looks at a company's website date the tools
it adopted or dropped and its head count, so a deal is judged on what was known on its day
(in the analysis frame and in the learned features), while the first look dates nothing, a
head count the CRM holds is never dated over and applying again changes nothing.

The world: ``N`` accounts of group ``h`` (the export has a name and a domain only) and ``N``
of group ``c`` (the export also holds 5,000 employees and Intercom). Every site shows
HubSpot and Intercom and 40 employees at the first run, HubSpot and Segment and 300
employees at the second. Each account has a deal before the first run, one between the
runs and one after the second.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scripted import NoDns

from helpers import run_query
from icpkit.analysis.frame import Frame, build_frame
from icpkit.config import AnalysisSettings, EnrichSettings
from icpkit.engines.features import compute_features
from icpkit.enrich import make_provider
from icpkit.enrich import run as runner
from icpkit.enrich.apply import apply
from icpkit.enrich.context import Context
from icpkit.enrich.model import Lookup, Observation, Target
from icpkit.enrich.run import EnrichResult, enrich, targets_of
from icpkit.icp.model import ICP, Criterion
from icpkit.learn.points import closed_deals
from icpkit.workspace import Workspace
from loopback import Reply, Request, Web, start

N = 8  # accounts per group
EARLY, MID, LATE = dt.date(2025, 1, 15), dt.date(2025, 6, 15), dt.date(2025, 12, 15)
FIRST, SECOND = dt.datetime(2025, 3, 1, 9), dt.datetime(2025, 9, 1, 9)
HUBSPOT = "<script src='https://js.hs-scripts.com/1234567.js'></script>"
INTERCOM = "<script src='https://widget.intercom.io/widget/abc12345'></script>"
SEGMENT = "<script src='https://cdn.segment.com/analytics.js/v1/abc/analytics.min.js'></script>"
ANALYSIS = AnalysisSettings(min_closed_deals=5)


def domains(group: str) -> list[str]:
    return [f"{group}{i}.com" for i in range(N)]


@dataclass
class Sites:
    """Every company's homepage, as it stands at look ``stage`` (1 or 2); a 503 when down."""

    stage: int = 1
    down: bool = False

    def homepage(self, _request: Request) -> Reply:
        if self.down:
            return Reply(503, "down")
        scripts, employees = (HUBSPOT + INTERCOM, 40) if self.stage == 1 else (
            HUBSPOT + SEGMENT, 300
        )  # fmt: skip
        org = (
            '{"@context": "https://schema.org", "@type": "Organization", '
            f'"numberOfEmployees": {employees}}}'
        )
        return Reply(
            body=f"<html><head><title>Co</title>{scripts}"
            f"<script type='application/ld+json'>{org}</script></head><body></body></html>"
        )


def look(web: Web, ws: Workspace, when: dt.datetime) -> EnrichResult:
    """An enrichment run (website, technographics) of ``ws`` whose clock reads ``when``."""
    settings = EnrichSettings(
        providers=["website", "technographics"],
        connect_to=web.connect_to,
        timeout_s=3.0,
        retries=0,
        host_rate=1000.0,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "_utcnow", lambda: when)
        with ws.connect() as con:
            providers = [make_provider(p, settings, {}) for p in settings.providers]
            return enrich(con, providers, targets_of(con), settings, resolver=NoDns())


@dataclass
class World:
    """The workspace after both looks, a copy of it after the first, and the runs' results."""

    web: Web
    sites: Sites
    after_first: Workspace
    workspace: Workspace
    first: EnrichResult
    second: EnrichResult

    def look(self, ws: Workspace, when: dt.datetime) -> EnrichResult:
        return look(self.web, ws, when)


def write_workspace(root: Path) -> Workspace:
    companies = ["Record ID,Company name,Company Domain Name,Number of Employees,Web Technologies"]
    deals = ["Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Associated Company IDs"]
    for n, domain in enumerate(domains("h") + domains("c")):
        crm = ",5000,Intercom" if domain.startswith("c") else ",,"
        companies.append(f"{100 + n},Co {domain},{domain}{crm}")
        for k, created in enumerate((EARLY, MID, LATE)):
            stage = "Closed Won" if (n + k) % 2 else "Closed Lost"
            closes = created + dt.timedelta(days=20)
            deals.append(f"{1000 + 3 * n + k},Deal,{stage},1000,{closes},{created},{100 + n}")
    for name, lines in (("companies", companies), ("deals", deals)):
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv", root / "deals.csv"]).ok
    return ws


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Both looks, once for the module; tests that change the store work on a copy."""
    web, sites = Web(), Sites()
    for domain in domains("h") + domains("c"):
        web.route(domain, "/", sites.homepage)
    server = start(web)
    try:
        root = tmp_path_factory.mktemp("history")
        ws = write_workspace(root)
        first = look(web, ws, FIRST)
        after_first = copy(ws, root / "after_first")
        sites.stage = 2
        second = look(web, ws, SECOND)  # past the cache's 30 days: asked again
        yield World(web, sites, after_first, ws, first, second)
    finally:
        server.shutdown()
        server.server_close()


def copy(ws: Workspace, dest: Path) -> Workspace:
    shutil.copytree(ws.root, dest)
    return Workspace.open(dest)


def frame_of(ws: Workspace) -> Frame:
    with ws.connect(read_only=True) as con:
        return build_frame(con, ANALYSIS)


def deals_with(frame: Frame, attribute: str, value: str) -> int:
    return int(sum(c.n_closed for c in frame.cuts.get(attribute, []) if c.value == value))


def enriched_history(ws: Workspace) -> list[tuple[object, ...]]:
    return run_query(
        ws,
        """SELECT account_key, signal_type, detail, observed_at::DATE, source FROM signals
           WHERE source LIKE 'enrich:%' ORDER BY ALL""",
    )


def test_the_first_look_dates_nothing_every_deal_sees_its_stack_and_head_count(
    world: World,
) -> None:
    ws = world.after_first
    assert enriched_history(ws) == []
    assert (world.first.applied.tech_events, world.first.applied.headcounts) == (0, 0)
    frame = frame_of(ws)
    assert frame.history.notes() == []
    assert deals_with(frame, "tech:HubSpot", "yes") == 6 * N
    assert deals_with(frame, "tech:Intercom", "yes") == 6 * N
    assert deals_with(frame, "tech:Segment", "yes") == 0
    assert deals_with(frame, "employees", "11-50") == 3 * N  # group h: the look's 40
    assert deals_with(frame, "employees", "1,001+") == 3 * N  # group c: the CRM's 5,000


def test_a_tool_seen_on_a_later_look_counts_from_that_day_and_a_dropped_one_until_it(
    world: World,
) -> None:
    frame = frame_of(world.workspace)
    # Group h: Intercom on its early and middle deals only; Segment on its late ones only.
    # Group c: Intercom is the CRM's own tool (on every deal); Segment from the second look.
    assert deals_with(frame, "tech:Intercom", "yes") == 2 * N + 3 * N
    assert deals_with(frame, "tech:Intercom", "no") == N
    assert deals_with(frame, "tech:Segment", "yes") == N + N
    assert deals_with(frame, "tech:Segment", "no") == 4 * N
    assert deals_with(frame, "tech:HubSpot", "yes") == 6 * N  # on both looks: never dated


def test_each_deal_gets_the_head_count_of_the_latest_look_on_or_before_its_day(
    world: World,
) -> None:
    frame = frame_of(world.workspace)
    # Group h: 40 before the second look (the first look stands for the days before it),
    # 300 after. Group c: the CRM's 5,000, which the waterfall keeps, on every deal.
    assert deals_with(frame, "employees", "11-50") == 2 * N
    assert deals_with(frame, "employees", "201-500") == N
    assert deals_with(frame, "employees", "1,001+") == 3 * N
    # The accounts hold today's values: scoring reads them.
    rows = dict(run_query(world.workspace, "SELECT account_key, employees FROM accounts"))
    assert {rows[d] for d in domains("h")} == {300}
    assert {rows[d] for d in domains("c")} == {5000}


def test_the_history_is_stored_as_dated_signals_of_the_looks_that_changed(world: World) -> None:
    rows = enriched_history(world.workspace)
    h0 = [r[1:] for r in rows if r[0] == "h0.com"]
    assert h0 == [
        ("headcount", "300", SECOND.date(), "enrich:website"),
        ("headcount", "40", FIRST.date(), "enrich:website"),
        ("tech_added", "Segment", SECOND.date(), "enrich:technographics"),
        ("tech_removed", "Intercom", SECOND.date(), "enrich:technographics"),
    ]
    # Group c: its own Intercom and head count are never dated; Segment's adoption is.
    c0 = [r[1:] for r in rows if r[0] == "c0.com"]
    assert c0 == [("tech_added", "Segment", SECOND.date(), "enrich:technographics")]
    applied = world.second.applied
    assert (applied.tech_events, applied.headcounts) == (2 * N + N, 2 * N)


def test_the_analysis_notes_count_the_dated_history(world: World) -> None:
    assert frame_of(world.workspace).history.notes() == [
        f"technologies as of each deal's creation, from {3 * N} dated tool additions and "
        f"removals ({3 * N} from successive enrichment looks)",
        f"employees as of each deal's creation, from {2 * N} dated head counts "
        f"({2 * N} from successive enrichment looks)",
    ]


def test_learned_features_see_the_stack_and_head_count_of_each_deals_day(world: World) -> None:
    icp = ICP(
        derived_at=dt.datetime(2026, 1, 1),
        data_fingerprint="x",
        fit=[
            Criterion(id="intercom", attribute="tech", values=["Intercom"], source="derived"),
            Criterion(id="segment", attribute="tech", values=["Segment"], source="derived"),
            Criterion(id="small", attribute="employees", min=11, max=50, source="derived"),
        ],
    )
    with world.workspace.connect(read_only=True) as con:
        deals = closed_deals(con)
        dated = compute_features(con, icp, ANALYSIS, point_in_time=True)
        today = compute_features(con, icp, ANALYSIS)
    late = deals.created_at >= np.datetime64(SECOND.date())
    h = np.char.startswith(deals.accounts.astype(str), "h")
    intercom, segment, small = (dated.matches[:, j] for j in range(3))
    assert (intercom[h & ~late] == 1).all() and (intercom[h & late] == 0).all()
    assert (segment[h & ~late] == 0).all() and (segment[h & late] == 1).all()
    assert (small[h & ~late] == 1).all() and (small[h & late] == 0).all()
    assert (intercom[~h] == 1).all() and (small[~h] == 0).all()
    assert (segment[~h & ~late] == 0).all() and (segment[~h & late] == 1).all()
    # Scoring today reads the accounts as they are: group h has Segment and 300 people.
    assert (today.matches[h, 1] == 1).all() and (today.matches[h, 2] == 0).all()


def test_applying_again_changes_nothing(world: World, tmp_path: Path) -> None:
    ws = copy(world.workspace, tmp_path / "ws")
    everything = "SELECT * FROM signals ORDER BY signal_key"
    accounts = "SELECT account_key, employees, technologies, enriched FROM accounts ORDER BY 1"
    before = run_query(ws, everything), run_query(ws, accounts)
    for _ in range(2):
        with ws.connect() as con:
            con.execute("DELETE FROM meta WHERE key = 'enrich_applied'")  # apply in full
            applied = apply(con, ws.settings.enrich)
        assert (applied.tech_events, applied.headcounts) == (3 * N, 2 * N)
        assert (run_query(ws, everything), run_query(ws, accounts)) == before


def test_a_later_look_that_sees_the_same_site_dates_nothing_new(
    world: World, tmp_path: Path
) -> None:
    ws = copy(world.workspace, tmp_path / "ws")
    before = enriched_history(ws)
    world.look(ws, SECOND + dt.timedelta(days=45))
    asked = run_query(ws, "SELECT count(DISTINCT fetched_at) FROM enrich_lookups")
    assert asked == [(3,)]  # a third look was made
    assert enriched_history(ws) == before


def test_a_look_that_failed_dates_no_removal_and_erases_no_value(
    world: World, tmp_path: Path
) -> None:
    ws = copy(world.workspace, tmp_path / "ws")
    before = enriched_history(ws)
    accounts = "SELECT account_key, employees, technologies FROM accounts ORDER BY 1"
    values = run_query(ws, accounts)
    key = values[0][0]
    shown = {(o["field"], o["value"]) for o in ws.enrichment(key)["observations"]}
    world.sites.down = True
    try:
        world.look(ws, SECOND + dt.timedelta(days=45))
    finally:
        world.sites.down = False
    # `icp enrich show` still shows what the last answer saw, beside the failure.
    after = ws.enrichment(key)
    assert {(o["field"], o["value"]) for o in after["observations"]} == shown != set()
    assert {x["status"] for x in after["lookups"]} == {"failed"}
    failed = run_query(
        ws, "SELECT provider, count(*) FROM enrich_lookups WHERE status = 'failed' GROUP BY 1"
    )
    assert sorted(failed) == [("technographics", 2 * N), ("website", 2 * N)]
    assert enriched_history(ws) == before
    assert run_query(ws, accounts) == values  # the answers before the failure still stand


@dataclass
class Tools:
    """A provider that sees the tools it is told to, on every account."""

    name: str
    seen: list[str]
    employees: str | None = None
    fields: frozenset[str] = frozenset({"tech", "employees"})
    cost: float = 0.0
    rate: float | None = None
    batch_size: int = 1
    ttl_days: float = 1.0
    keyless: bool = True

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        found = [Observation("tech", t, 1.0, f"https://{self.name}/") for t in self.seen]
        if self.employees is not None:
            found.append(Observation("employees", self.employees, 0.9, f"https://{self.name}/"))
        return [Lookup.of(t.account_key, found, "no tool seen") for t in targets]


def acme(root: Path, employees: str = "") -> Workspace:
    (root / "companies.csv").write_text(
        "Record ID,Company name,Company Domain Name,Number of Employees\n"
        f"1,Acme,acme.com,{employees}\n",
        encoding="utf-8",
    )
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv"]).ok
    return ws


def look_at(
    ws: Workspace, providers: list[Tools], settings: EnrichSettings, day: dt.datetime
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "_utcnow", lambda: day)
        with ws.connect() as con:
            enrich(con, providers, targets_of(con), settings, resolver=NoDns())


def test_a_tool_is_present_while_any_providers_latest_look_shows_it(tmp_path: Path) -> None:
    ws = acme(tmp_path)
    a, b = Tools("a", ["Xero", "Yext"]), Tools("b", [])
    days = [dt.datetime(2025, m, 1) for m in (1, 2, 3, 4)]
    looks = [
        (["Xero", "Yext"], []),  # the first looks: a snapshot
        (["Yext"], ["Xero"]),  # gone from a, seen by b: never absent
        (["Yext"], []),  # seen by nobody: removed
        (["Xero", "Yext"], []),  # back
    ]
    settings = EnrichSettings(providers=["a", "b"])
    for day, (by_a, by_b) in zip(days, looks, strict=True):
        a.seen, b.seen = by_a, by_b
        look_at(ws, [a, b], settings, day)
    assert [r[1:] for r in enriched_history(ws)] == [
        ("tech_added", "Xero", days[3].date(), "enrich:a"),
        ("tech_removed", "Xero", days[2].date(), "enrich:b"),
    ]


@pytest.mark.parametrize("first", [["crm", "a"], ["a", "crm"]])
def test_a_crm_head_count_is_dated_over_only_where_the_waterfall_ranks_a_provider_first(
    tmp_path: Path, first: list[str]
) -> None:
    ws = acme(tmp_path, employees="5000")
    provider = Tools("a", [])
    settings = EnrichSettings(providers=["a"], waterfall={"employees": first})
    for day, employees in ((dt.datetime(2025, 1, 1), "40"), (dt.datetime(2025, 2, 1), "300")):
        provider.employees = employees
        look_at(ws, [provider], settings, day)
    counts = [(r[2], r[3]) for r in enriched_history(ws) if r[1] == "headcount"]
    held = run_query(ws, "SELECT employees FROM accounts")
    if first[0] == "crm":
        assert (counts, held) == ([], [(5000,)])
    else:
        assert counts == [("300", dt.date(2025, 2, 1)), ("40", dt.date(2025, 1, 1))]
        assert held == [(300,)]
