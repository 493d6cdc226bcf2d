"""Named ICPs in the report: a section each after the main ICP, with the deals it learns
from counted in the store, its rules with their points and evidence, its tiers and its
buyer persona; a workspace without named ICPs gets the six sections it always had."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_pages import Tables, read_tables
from test_report_page import NOT_A_NUMBER, SECTIONS, visible_text

from helpers import DemoWorkspace
from icpkit.config import DealFilter, NamedIcp
from icpkit.engines.scorecard import build_scorecard
from icpkit.icp.describe import describe_condition
from icpkit.workspace import Workspace
from lines_contacts import PIPELINES, lines_with_contacts
from small_crm import SmallCrm


@dataclass(frozen=True)
class Written:
    """The workspace with named ICPs and its report, as a page and as Markdown."""

    lines: DemoWorkspace
    html: str
    md: str

    @property
    def tables(self) -> Tables:
        return read_tables(self.html)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    lines = lines_with_contacts(tmp_path_factory)
    out = tmp_path_factory.mktemp("named-report")
    ws = lines.ws
    html = ws.report(out / "r.html", backtest=False).read_text(encoding="utf-8")
    md = ws.report(out / "r.md", fmt="md", backtest=False).read_text(encoding="utf-8")
    return Written(lines, html, md)


@pytest.mark.slow
def test_each_named_icp_has_a_section_right_after_the_main_icp(written: Written) -> None:
    ids = re.findall(r'<section id="([a-z_-]+)"', written.html)
    named = [f"named-{name}" for name in PIPELINES]
    assert ids == ["icp", *named, *list(SECTIONS)[1:]]
    headings = re.findall(r"^## \d+\. (.+)$", written.md, flags=re.M)
    assert headings == ["The ICP", *(f"ICP {n}" for n in PIPELINES), *list(SECTIONS.values())[1:]]
    assert NOT_A_NUMBER.search(visible_text(written.html)) is None
    assert NOT_A_NUMBER.search(written.md) is None


@pytest.mark.slow
def test_a_named_icps_deals_are_its_pipelines_closed_new_business_deals(
    written: Written,
) -> None:
    tables = written.tables
    with written.lines.ws.connect(read_only=True) as con:
        for name, pipeline in PIPELINES.items():
            closed, won, accounts, customers = con.execute(
                """SELECT count(*), count(*) FILTER (WHERE outcome = 'won'),
                          count(DISTINCT account_key),
                          count(DISTINCT account_key) FILTER (WHERE outcome = 'won')
                   FROM deals WHERE pipeline = ? AND NOT is_expansion
                    AND outcome IN ('won', 'lost') AND account_key IS NOT NULL""",
                [pipeline],
            ).fetchall()[0]
            shown = {row[0][0]: row[1][1] for row in tables.rows(f"named-{name}-deals")}
            assert shown["closed deals"] == closed and shown["won"] == won
            assert shown["win rate (95% CI)"] == pytest.approx(won / closed)
            assert shown["accounts"] == accounts
            assert shown["customers (accounts that won one)"] == customers
            assert shown["saved versions"] == 1
            assert f"Learned from new-business deals in pipeline {pipeline}:" in written.html


@pytest.mark.slow
def test_a_named_icps_rule_tables_are_its_rules_with_their_points_and_lift(
    written: Written,
) -> None:
    ws = written.lines.ws
    tables = written.tables
    for name in PIPELINES:
        icp = ws.named_icp(name)
        card = build_scorecard(icp, ws.settings.scoring)
        points = {rp.id: rp.points for rp in card.rules}
        assert icp.fit, name
        for kind in ("boundary", "fit", "intent", "exclusions"):
            rules = getattr(icp, kind)
            key = f"named-{name}-{kind}"
            if not rules:
                assert key not in tables.tables
                continue
            rows = tables.rows(key)
            assert [r[0][0] for r in rows] == [describe_condition(x) for x in rules]
            for row, rule in zip(rows, rules, strict=True):
                assert row[1][1] == points.get(rule.id), (name, rule.id)
                if rule.evidence is not None and rule.evidence.lift is not None:
                    assert row[2][1] == pytest.approx(rule.evidence.lift)
        cuts = ", ".join(f"tier {t} from {v:g}" for t, v in sorted(card.tiers.items()))
        section = written.html.split(f'<section id="named-{name}"')[1].split("</section>")[0]
        assert cuts in section


@pytest.mark.slow
def test_a_named_icps_persona_table_is_the_persona_learned_from_its_deals(
    written: Written,
) -> None:
    ws = written.lines.ws
    for name in PIPELINES:
        persona = ws.named_icp(name).persona
        assert persona is not None
        rows = written.tables.rows(f"named-{name}-persona")
        assert [r[0][0] for r in rows] == [
            f"{r.seniority} in {r.department}" for r in persona.roles
        ]
        for row, role in zip(rows, persona.roles, strict=True):
            assert role.evidence is not None
            assert row[1][1] == pytest.approx(role.evidence.lift)
            assert row[3][1] == role.evidence.n_closed
        assert persona.rationale in written.md


def test_a_named_icp_declared_but_not_derived_says_how_to_derive_it(
    flat: SmallCrm, tmp_path: Path
) -> None:
    ws = Workspace.open(flat.ws.root)  # settings changed in memory stay with this test
    ws.settings.icps.append(NamedIcp(name="partners", deals=DealFilter(pipeline=["Partners"])))
    html = ws.report(tmp_path / "r.html", backtest=False).read_text(encoding="utf-8")
    assert '<section id="named-partners"' in html
    assert "not derived yet: run icp derive --icp partners" in html
    rows = {r[0][0]: r[1] for r in read_tables(html).rows("named-partners-deals")}
    assert rows["closed deals"] == ("0", 0.0)
    assert rows["win rate (95% CI)"][0] == "–"  # no deals: no rate, and never nan
    assert NOT_A_NUMBER.search(visible_text(html)) is None


def test_a_workspace_without_named_icps_has_the_six_sections_only(
    flat: SmallCrm, tmp_path: Path
) -> None:
    md = flat.ws.report(tmp_path / "r.md", fmt="md", backtest=False).read_text("utf-8")
    assert re.findall(r"^## \d+\. (.+)$", md, flags=re.M) == list(SECTIONS.values())
    html = flat.ws.report(tmp_path / "r.html", backtest=False).read_text(encoding="utf-8")
    assert "named-" not in html
