"""Named ICPs in one workspace: declared in icp.yaml with the deals each learns from, derived
with a version line of their own, split by pipeline or motion; the main ICP untouched."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml

from helpers import DemoWorkspace, run_query
from icpkit.config import (
    ConfigError,
    DealFilter,
    NamedIcp,
    Settings,
    load_settings,
    parse_settings,
    save_settings,
)
from icpkit.demo.judge import judge
from icpkit.icp.named import (
    NamedIcpError,
    deal_condition,
    find_named,
    split_by,
    versions_of,
    won_accounts,
)
from icpkit.workspace import Workspace
from two_lines import two_line_workspace

# --- Declaring named ICPs in icp.yaml ------------------------------------------------------


def test_workspace_of_one_icp_writes_no_icps_key(tmp_path: Path) -> None:
    path = tmp_path / "icp.yaml"
    save_settings(Settings(name="acme"), path)
    assert "icps" not in yaml.safe_load(path.read_text(encoding="utf-8"))
    assert load_settings(path).icps == []


def test_named_icp_is_read_with_its_deal_filter() -> None:
    settings = parse_settings(
        "name: acme\n"
        "icps:\n"
        "  - name: platform\n"
        "    deals: {pipeline: [Platform], segment: {industry: [Software]}}\n"
        "  - name: upsell\n"
        "    deals: {motion: expansion}\n"
    )
    platform, upsell = settings.icps
    assert platform.deals.pipeline == ["Platform"]
    assert platform.deals.segment == {"industry": ["Software"]}
    assert platform.deals.motion == "new_business"
    assert upsell.deals.motion == "expansion" and upsell.deals.pipeline is None


def test_named_icp_with_a_bad_name_is_refused_naming_line_and_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings("name: acme\nicps:\n  - name: Platform Line\n")
    message = str(raised.value)
    assert "line 3" in message and "icps[0].name" in message and "Platform Line" in message


def test_named_icps_of_the_same_name_are_refused() -> None:
    text = "name: acme\nicps:\n  - name: core\n  - name: core\n"
    with pytest.raises(ConfigError, match="given twice: core"):
        parse_settings(text)


def test_segment_on_an_unknown_account_column_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"icps\[0\]\.deals\.segment"):
        parse_settings("name: acme\nicps:\n  - name: a\n    deals: {segment: {phone: [x]}}\n")


def test_a_broken_named_icp_document_names_its_key_path() -> None:
    text = "name: acme\nicps:\n  - name: core\n    icp: {derived_at: yesterday}\n"
    with pytest.raises(ConfigError, match=r"icps\[0\]\.icp"):
        parse_settings(text)


# --- The deals a named ICP learns from ----------------------------------------------------


def _store(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A store of 12 deals: pipelines A (6) and B (4) and none (2), new business and
    expansion, in Software and Retail accounts."""
    con = duckdb.connect(str(tmp_path / "deals.duckdb"))
    con.execute(
        "CREATE TABLE accounts (account_key VARCHAR, industry VARCHAR, industry_sector VARCHAR, "
        "country VARCHAR, funding_stage VARCHAR, lifecycle_stage VARCHAR)"
    )
    con.execute("INSERT INTO accounts VALUES ('s1', 'Software', NULL, NULL, NULL, NULL)")
    con.execute("INSERT INTO accounts VALUES ('r1', 'Retail', NULL, NULL, NULL, NULL)")
    con.execute(
        "CREATE TABLE deals (deal_key VARCHAR, account_key VARCHAR, outcome VARCHAR, "
        "is_expansion BOOLEAN, pipeline VARCHAR, deal_type VARCHAR)"
    )
    rows = [
        ("a1", "s1", "won", False, "A", "New"),
        ("a2", "s1", "lost", False, "A", "New"),
        ("a3", "r1", "won", False, "A", "New"),
        ("a4", "r1", "lost", False, "A", "New"),
        ("a5", "s1", "won", True, "A", "Upsell"),
        ("a6", "r1", "open", False, "A", "New"),
        ("b1", "s1", "won", False, "B", "New"),
        ("b2", "r1", "lost", False, "B", "New"),
        ("b3", "r1", "lost", True, "B", "Upsell"),
        ("b4", None, "won", False, "B", "New"),
        ("n1", "s1", "won", False, None, "New"),
        ("n2", "r1", "lost", False, None, "New"),
    ]
    con.executemany("INSERT INTO deals VALUES (?, ?, ?, ?, ?, ?)", rows)
    return con


def _selected(con: duckdb.DuckDBPyConnection, deals: DealFilter) -> set[str]:
    rows = con.execute(f"SELECT deal_key FROM deals WHERE {deal_condition(deals)}").fetchall()
    return {r[0] for r in rows}


def test_deal_filter_selects_its_pipeline_new_business_only(tmp_path: Path) -> None:
    con = _store(tmp_path)
    assert _selected(con, DealFilter(pipeline=["A"])) == {"a1", "a2", "a3", "a4", "a6"}


def test_deal_filter_of_expansion_motion_selects_expansion_deals(tmp_path: Path) -> None:
    con = _store(tmp_path)
    assert _selected(con, DealFilter(motion="expansion")) == {"a5", "b3"}


def test_deal_filter_of_a_segment_selects_deals_of_its_accounts(tmp_path: Path) -> None:
    con = _store(tmp_path)
    chosen = DealFilter(pipeline=["A", "B"], segment={"industry": ["Software"]})
    assert _selected(con, chosen) == {"a1", "a2", "b1"}


def test_deal_filter_by_deal_type(tmp_path: Path) -> None:
    con = _store(tmp_path)
    assert _selected(con, DealFilter(motion="expansion", deal_type=["Upsell"])) == {"a5", "b3"}
    assert _selected(con, DealFilter(deal_type=["Upsell"])) == set()


def test_split_by_pipeline_keeps_values_with_enough_closed_deals(tmp_path: Path) -> None:
    con = _store(tmp_path)
    settings = Settings.model_validate({"analysis": {"min_closed_deals": 4}})
    splits, skipped = split_by(con, "pipeline", settings)
    # A: four closed new-business deals linked to an account; B: two (b4 has no account).
    assert [(s.value, s.name, s.closed, s.won) for s in splits] == [("A", "a", 4, 2)]
    assert splits[0].deals == DealFilter(pipeline=["A"])
    assert any("'B'" in line and "2 closed deals" in line for line in skipped)
    assert any("no pipeline" in line and "2 closed" in line for line in skipped)


def test_split_by_motion_gives_new_business_and_expansion(tmp_path: Path) -> None:
    con = _store(tmp_path)
    settings = Settings.model_validate({"analysis": {"min_closed_deals": 2}})
    splits, skipped = split_by(con, "motion", settings)
    assert {s.name: (s.closed, s.won) for s in splits} == {
        "new_business": (8, 4),
        "expansion": (2, 1),
    }
    assert skipped == []


def test_split_skips_a_value_where_every_deal_was_won(tmp_path: Path) -> None:
    con = _store(tmp_path)
    con.execute("UPDATE deals SET outcome = 'won' WHERE pipeline = 'A'")
    settings = Settings.model_validate({"analysis": {"min_closed_deals": 2}})
    splits, skipped = split_by(con, "pipeline", settings)
    assert "A" not in {s.value for s in splits}
    assert any("'A'" in line and "all of its" in line for line in skipped)


def test_split_reuses_the_name_of_an_icp_declared_on_the_same_deals(tmp_path: Path) -> None:
    con = _store(tmp_path)
    settings = Settings.model_validate(
        {
            "analysis": {"min_closed_deals": 2},
            "icps": [{"name": "platform", "deals": {"pipeline": ["A"]}}],
        }
    )
    splits, _ = split_by(con, "pipeline", settings)
    assert {s.value: s.name for s in splits} == {"A": "platform", "B": "b"}


def test_split_by_an_unknown_field_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NamedIcpError, match="pipeline, motion"):
        split_by(_store(tmp_path), "region", Settings())


def test_customers_of_a_named_icp_are_accounts_that_won_its_deals(tmp_path: Path) -> None:
    con = _store(tmp_path)
    settings = Settings(icps=[NamedIcp(name="b", deals=DealFilter(pipeline=["B"]))])
    assert won_accounts(con, settings, "b") == {"s1"}


def test_an_undeclared_icp_is_refused_naming_those_declared() -> None:
    settings = Settings(icps=[NamedIcp(name="core")])
    with pytest.raises(NamedIcpError, match=r"no ICP named 'edge'.*core"):
        find_named(settings, "edge")


# --- Deriving named ICPs on a CRM of two product lines ------------------------------------


@pytest.fixture(scope="module")
def two_lines(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return two_line_workspace(tmp_path_factory)


def _closed(ws: Workspace, pipeline: str) -> tuple[int, int]:
    rows = run_query(
        ws,
        "SELECT count(*), count(*) FILTER (WHERE outcome = 'won') FROM deals "
        f"WHERE pipeline = '{pipeline}' AND NOT is_expansion AND outcome IN ('won', 'lost') "
        "AND account_key IS NOT NULL",
    )
    return int(rows[0][0]), int(rows[0][1])  # type: ignore[call-overload]


@pytest.mark.slow
def test_derive_by_pipeline_fits_each_icp_on_its_own_pipelines_deals(
    two_lines: DemoWorkspace,
) -> None:
    ws = two_lines.ws
    truth = json.loads(two_lines.files.planted_truth.read_text(encoding="utf-8"))
    for line in truth["product_lines"]:
        named = next(n for n in ws.settings.icps if n.deals.pipeline == [line["pipeline"]])
        icp = ws.named_icp(named.name)
        assert icp.scoring is not None
        assert (icp.scoring.deals, icp.scoring.wins) == _closed(ws, line["pipeline"])


@pytest.mark.slow
def test_named_icps_keep_versions_of_their_own_and_leave_the_main_one(
    two_lines: DemoWorkspace,
) -> None:
    ws = two_lines.ws
    assert ws.versions.numbers() == [1]  # the main ICP: derived once, before the split
    main = ws.current_icp()
    assert main is not None and main.scoring is not None
    for named in ws.settings.icps:
        versions = versions_of(ws.root, named.name)
        assert versions.numbers() == [1]
        assert versions.versions_dir == ws.root / ".icp" / "icps" / named.name / "versions"
        assert versions.load(1) == ws.named_icp(named.name)
    # The main ICP learned from every pipeline's new-business deals.
    total = sum(_closed(ws, n.deals.pipeline[0])[0] for n in ws.settings.icps if n.deals.pipeline)
    assert main.scoring.deals == total


@pytest.mark.slow
def test_deriving_a_named_icp_again_on_unchanged_data_writes_nothing(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    name = ws.settings.icps[0].name
    before = (tmp_path / "ws" / "icp.yaml").read_text(encoding="utf-8")
    again = ws.derive_named(name)
    assert not again.written and again.version == 1
    assert (tmp_path / "ws" / "icp.yaml").read_text(encoding="utf-8") == before
    assert versions_of(ws.root, name).numbers() == [1]


@pytest.mark.slow
def test_named_icp_of_the_expansion_motion_learns_from_expansion_deals(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    ws.settings.icps.append(NamedIcp(name="upsell", deals=DealFilter(motion="expansion")))
    result = ws.derive_named("upsell")
    rows = run_query(
        ws,
        "SELECT count(*), count(*) FILTER (WHERE outcome = 'won') FROM deals "
        "WHERE is_expansion AND outcome IN ('won', 'lost') AND account_key IS NOT NULL",
    )
    assert result.icp.scoring is not None
    assert (result.icp.scoring.deals, result.icp.scoring.wins) == rows[0]
    # Written into icp.yaml beside the others, read back from there.
    assert Workspace.open(ws.root).named_icp("upsell") == result.icp


@pytest.mark.slow
def test_named_icp_whose_deals_match_nothing_is_refused_with_the_reason(
    two_lines: DemoWorkspace, tmp_path: Path
) -> None:
    ws = two_lines.copy(tmp_path / "ws")
    ws.settings.icps.append(NamedIcp(name="ghost", deals=DealFilter(pipeline=["Nope"])))
    with pytest.raises(NamedIcpError, match=r"'ghost'.*pipeline Nope.*no closed deal"):
        ws.derive_named("ghost")


# --- The planted product lines, recovered ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_derive_by_pipeline_recovers_each_planted_product_line(seed: int, tmp_path: Path) -> None:
    from icpkit.demo import make_crm

    files = make_crm(10_000, seed, tmp_path / "crm", product_lines=2)
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    by = ws.derive_by("pipeline")
    truth = json.loads(files.planted_truth.read_text(encoding="utf-8"))
    assert {n for n, _ in by.derived} == {n.name for n in ws.settings.icps}
    for line in truth["product_lines"]:
        named = [n for n in ws.settings.icps if n.deals.pipeline == [line["pipeline"]]]
        assert len(named) == 1, line["pipeline"]
        icp = ws.named_icp(named[0].name)
        # The strict judge against the line's own truth: each discriminator found as a
        # positive fit criterion (not as the mirror image of other values losing), each
        # disqualifier its market can hold as an exclusion (line 2's holds none), no decoy.
        found = judge(icp, {**truth, **line})
        assert found.missing == [], (seed, line["name"], found.missing)
        assert found.decoys == 0, (seed, line["name"], found.of("decoy"))
