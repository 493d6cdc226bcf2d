"""The buyer persona: contacts matching it add to deal potential, learned from the deals."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from helpers import DemoCrm
from icpkit.config import PersonaSettings, save_settings
from icpkit.demo import make_crm
from icpkit.engines.scorecard import build_scorecard
from icpkit.workspace import Workspace

pytestmark = pytest.mark.slow


def _contacts(files: object, path: Path, seed: int) -> None:
    """One contact per company: a VP of Sales far more often where the company bought."""
    rng = np.random.default_rng(seed)
    with (
        files.company_truth.open(encoding="utf-8") as src,
        path.open(  # type: ignore[attr-defined]
            "w", encoding="utf-8", newline=""
        ) as dst,
    ):
        writer = csv.writer(dst)
        writer.writerow(["Record ID", "First Name", "Last Name", "Email", "Job Title"])
        for i, row in enumerate(csv.DictReader(src)):
            share = 0.7 if row["customer"] == "1" else 0.15
            title = "VP of Sales" if rng.random() < share else "Software Engineer"
            writer.writerow([9000 + i, "Ann", f"Lee{i}", f"ann{i}@{row['domain']}", title])


def test_a_persona_match_adds_learned_points_to_deal_potential(
    tmp_path: Path, demo_crm: DemoCrm
) -> None:
    files = demo_crm(3_000, 5)
    contacts = tmp_path / "contacts.csv"
    _contacts(files, contacts, 5)
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest([*files.exports(), contacts]).ok
    ws.settings.scoring.persona = PersonaSettings(seniorities=["VP"], departments=["Sales"])
    save_settings(ws.settings, ws.config_path)
    ws = Workspace.open(ws.root)
    icp = ws.derive().icp
    assert icp.scoring is not None and (icp.scoring.persona_weight or 0) > 0.5
    card = build_scorecard(icp, ws.settings.scoring)
    persona = next(rp for rp in card.rules if rp.id == "persona")
    assert persona.dimension == "deal_potential" and persona.points > 0
    assert card.caps["deal_potential"] == persona.points

    prospects = tmp_path / "prospects.csv"
    prospects.write_text(
        "Company name,Website URL,Number of Employees\n"
        f"Known,{_domain_with_vp(contacts)},120\nUnknown,nobody-here.io,120\n",
        encoding="utf-8",
    )
    rows = {r["name"]: r for r in ws.score_file(prospects).rows()}
    assert "buyer persona" in rows["Known"]["top_reasons"]
    assert rows["Known"]["deal_potential"] == persona.points
    assert rows["Unknown"]["deal_potential"] == 0


def test_human_persona_points_win_over_learned_ones(tmp_path: Path) -> None:
    files = make_crm(2_000, 9, tmp_path / "data")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(files.exports()).ok
    icp = ws.derive().icp
    settings = ws.settings.scoring.model_copy(
        update={"persona": PersonaSettings(titles=["revops"], points=7)}
    )
    card = build_scorecard(icp, settings)
    persona = next(rp for rp in card.rules if rp.id == "persona")
    assert (persona.points, persona.source) == (7, "human")


def _domain_with_vp(contacts: Path) -> str:
    with contacts.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Job Title"] == "VP of Sales":
                return row["Email"].split("@")[1]
    raise AssertionError("no VP in the contacts")
