"""Scoring a file of accounts: read and normalized like any companies export, then scored.

The file is loaded into a scratch in-memory store (the workspace is never written), so bad
cells are quarantined and reported exactly as at ingestion. Intent and persona come from the
workspace's signals and contacts, matched by account key (the registrable domain).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from icpkit.config import MappingRule, Settings
from icpkit.icp.model import ICP
from icpkit.ingest.pipeline import FileReport, ingest_file
from icpkit.scoring.features import ENTITIES, compute_features
from icpkit.scoring.score import Scores, apply_scorecard
from icpkit.scoring.scorecard import Scorecard, build_scorecard
from icpkit.store import connect

REASONS_SHOWN = 3


@dataclass
class ScoredFile:
    """The scored accounts of one file, in file order, and how the file was read."""

    report: FileReport
    scorecard: Scorecard
    as_of: dt.date
    accounts: list[dict[str, Any]] = field(default_factory=list)
    scores: Scores | None = None

    def rows(self, *, full: bool = False) -> list[dict[str, Any]]:
        """One flat row per account: identity, scores, tier, route and reasons as text (or,
        with ``full``, every reason with its points and the base, for JSON)."""
        out: list[dict[str, Any]] = []
        s = self.scores
        if s is None:
            return out
        for i, account in enumerate(self.accounts):
            positive, negative = s.top_reasons(i, REASONS_SHOWN)
            row: dict[str, Any] = {
                **account,
                "fit": int(s.fit[i]),
                "intent": int(s.intent[i]),
                "score": int(s.score[i]),
                "tier": str(s.tier[i]),
                "route": str(s.route[i]),
                "win_probability": round(float(s.probability[i]), 4),
            }
            for d, values in s.subscores.items():
                if self.scorecard.caps[d]:
                    row[d] = int(values[i])
            row["top_reasons"] = "; ".join(f"{r.text} ({r.points:+d})" for r in positive)
            row["negative_reasons"] = "; ".join(
                f"{r.text} ({r.points:+d})" if r.points else r.text for r in negative
            )
            if full:
                row["base"] = self.scorecard.base_total
                row["reasons"] = [
                    {
                        "rule": r.rule_id,
                        "dimension": r.dimension,
                        "text": r.text,
                        "points": r.points,
                    }
                    for r in s.reasons(i)
                ]
            out.append(row)
        return out


def score_file(
    path: Path,
    icp: ICP,
    settings: Settings,
    store: Path | None,
    *,
    as_of: dt.date | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> ScoredFile:
    """Score every account of ``path`` with ``icp`` as of ``as_of`` (default: today)."""
    day = as_of or dt.date.today()
    card = build_scorecard(icp, settings.scoring)
    # The file holds companies, whatever detection would guess; a mapping rule written for
    # it keeps its columns.
    own = next((r for r in settings.ingest.mapping if fnmatch.fnmatch(path.name, r.files)), None)
    rule = (
        own.model_copy(update={"entity": "companies"})
        if own
        else MappingRule(files=path.name, entity="companies")
    )
    ingest = settings.ingest.model_copy(update={"mapping": [rule, *settings.ingest.mapping]})
    con = connect(":memory:")
    try:
        report = ingest_file(con, path, ingest, encoding=encoding, sheet=sheet, force=True)
        signals, contacts, deals = "signals", "contacts", "deals"
        if store is not None and store.exists():
            con.execute(f"ATTACH '{store.as_posix()}' AS ws (READ_ONLY)")
            signals, contacts, deals = "ws.signals", "ws.contacts", "ws.deals"
        # A record the workspace knows by its CRM id is that account, whatever the file
        # says of its domain: its signals, contacts and deals are the workspace's.
        known = "ws.account_ids" if deals.startswith("ws.") else "account_ids"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {ENTITIES} AS
                WITH known AS (
                  SELECT s.account_key, min(w.account_key) AS workspace_key
                  FROM account_ids s JOIN {known} w USING (system, source_id)
                  GROUP BY s.account_key)
                SELECT (row_number() OVER (ORDER BY a.source_line, a.account_key) - 1)::BIGINT
                         AS entity_id, coalesce(k.workspace_key, a.account_key) AS account_key,
                       a.account_key AS file_key, DATE '{day.isoformat()}' AS as_of
                FROM accounts a LEFT JOIN known k USING (account_key)"""
        )
        rows = con.execute(
            f"""SELECT e.entity_id, a.source_line AS line,
                       (SELECT min(source_id) FROM account_ids i
                        WHERE i.account_key = e.file_key) AS record_id,
                       a.name, a.domain, a.employees,
                       a.industry, a.country,
                       e.account_key IN (SELECT account_key FROM {deals} WHERE outcome = 'won')
                FROM {ENTITIES} e JOIN accounts a ON a.account_key = e.file_key
                ORDER BY e.entity_id"""
        ).fetchall()
        features = compute_features(
            con,
            icp,
            settings.analysis,
            persona=settings.scoring.persona,
            signals=signals,
            contacts=contacts,
            attributes_key="file_key",
        )
    finally:
        con.close()
    accounts = [
        {
            "line": line,
            "record_id": record_id,
            "name": name,
            "domain": domain,
            "employees": employees,
            "industry": industry,
            "country": country,
            "customer": bool(customer),
        }
        for _, line, record_id, name, domain, employees, industry, country, customer in rows
    ]
    scores = apply_scorecard(card, features)
    result = ScoredFile(report, card, day, accounts, scores)
    assert len(accounts) == scores.score.shape[0] == np.asarray(features.matches).shape[0]
    return result
