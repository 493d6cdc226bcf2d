"""Judging a derived ICP against the demo CRM's planted truth: each rule is planted, a decoy or
spurious (neither), and which planted criteria and exclusions were not recovered; how well the
planted intent windows came back; a rule's lift measured on another (larger) sample; and the
top tiers' wins against the most the true win probability could put in as many deals.

The benchmarks and the planted-truth tests count with these functions, so "spurious" means
the same thing everywhere: a derived rule that matches nothing the generator planted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np

from icpkit.config import AnalysisSettings
from icpkit.icp.model import ICP, Criterion, Exclusion, IntentSignal

Kind = Literal["planted", "decoy", "spurious"]


@dataclass(frozen=True)
class Verdict:
    """One derived rule and what it is against the planted truth."""

    rule_id: str
    list: str  # 'fit', 'exclusions' or 'intent'
    kind: Kind
    truth: str | None = None  # the planted item it matches, in words


@dataclass(frozen=True)
class Judgement:
    """Every derived (not hand-made) rule's verdict and the planted items not recovered."""

    verdicts: list[Verdict]
    missing: list[str] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Verdict]:
        """The verdicts of one kind."""
        return [v for v in self.verdicts if v.kind == kind]

    @property
    def decoys(self) -> int:
        """Derived rules that match a decoy (common, no effect)."""
        return len(self.of("decoy"))

    @property
    def spurious(self) -> int:
        """Derived rules that match nothing planted."""
        return len(self.of("spurious"))

    @property
    def recovered(self) -> bool:
        """Whether every planted fit criterion and exclusion was found."""
        return not self.missing


def label(planted: dict[str, Any]) -> str:
    """A planted item in words: 'employees 51-200', 'industry Software'."""
    if planted.get("attribute") == "signal":
        return f"signal {planted['type']} {'/'.join(planted.get('detail_in', []))}".strip()
    if "min" in planted:
        high = planted.get("max")
        return f"{planted['attribute']} {planted['min']}" + (f"-{high}" if high else "+")
    return f"{planted['attribute']} {planted['value']}"


def matches(rule: Criterion | Exclusion, planted: dict[str, Any]) -> bool:
    """Whether a fit criterion or exclusion names the planted attribute value: its values hold
    the planted value, or its range lies inside the planted range."""
    if rule.attribute != planted["attribute"] or (isinstance(rule, Criterion) and rule.missing):
        return False
    if "value" in planted:
        return planted["value"] in (rule.values or [])
    if "min" not in planted:
        return False
    # A range open below matches a planted range from the smallest count (1 employee).
    if rule.min is None and planted["min"] > 1:
        return False
    if rule.min is not None and rule.min < planted["min"]:
        return False
    high = planted.get("max")
    if high is None:
        return True
    return rule.max is not None and rule.max <= high


def _signal_matches(signal: IntentSignal, planted: dict[str, Any]) -> bool:
    if signal.signal != planted.get("type"):
        return False
    wanted = set(planted.get("detail_in", []))
    return not wanted or bool(wanted & set(signal.detail_in))


def _first(rule: Criterion | Exclusion, items: Sequence[dict[str, Any]]) -> str | None:
    return next((label(p) for p in items if matches(rule, p)), None)


def judge(icp: ICP, truth: dict[str, Any]) -> Judgement:
    """Each derived rule of ``icp`` against ``truth`` (planted_truth.json, parsed).

    Planted: a positive fit criterion on a discriminator; a negative criterion or a
    disqualifier on a disqualifier or the targeting confounder (a real, if weak, effect); a
    churn exclusion on a churn driver; an intent signal of a planted type and detail. Decoy:
    any rule on a decoy. Anything else is spurious. Missing: a discriminator with no positive
    criterion, a disqualifier with no exclusion.
    """
    negative = [*truth["disqualifiers"], truth["targeting_confounder"]]
    decoys = truth["decoys"]
    verdicts: list[Verdict] = []

    def add(rule: Criterion | Exclusion, where: str, planted: Sequence[dict[str, Any]]) -> None:
        hit = _first(rule, planted)
        decoy = _first(rule, decoys)
        kind: Kind = "planted" if hit else "decoy" if decoy else "spurious"
        verdicts.append(Verdict(rule.id, where, kind, hit or decoy))

    for c in icp.fit:
        # A Missing bin claims nothing about the market: neither planted nor spurious.
        if c.source == "derived" and not c.missing:
            add(c, "fit", truth["discriminators"] if c.direction == "positive" else negative)
    for e in icp.exclusions:
        if e.source == "derived":
            add(e, "exclusions", truth["churn_drivers"] if e.kind == "churn" else negative)
    for s in icp.intent:
        if s.source == "derived":
            hit = next((label(p) for p in truth["intent_signals"] if _signal_matches(s, p)), None)
            verdicts.append(Verdict(s.id, "intent", "planted" if hit else "spurious", hit))
    missing = [
        label(p)
        for p in truth["discriminators"]
        if not any(c.direction == "positive" and matches(c, p) for c in icp.fit)
    ]
    missing += [
        label(p) for p in truth["disqualifiers"] if not any(matches(e, p) for e in icp.exclusions)
    ]
    return Judgement(verdicts, missing)


def truth_table(icp: ICP, truth: dict[str, Any]) -> list[dict[str, str]]:
    """The derived ICP next to the planted truth, a row a planted item (where the ICP has it,
    with the overlap of intent windows), a row a decoy (kept out or wrongly in), and a row a
    derived rule that matches nothing planted: what `icp demo` prints."""
    rows: list[dict[str, str]] = []

    def row(planted: str, kind: str, derived: str) -> None:
        rows.append({"planted": planted, "as": kind, "derived": derived})

    positive = [c for c in icp.fit if c.direction == "positive"]
    for p in truth["discriminators"]:
        hits = [c.id for c in positive if matches(c, p)]
        row(label(p), "fit", ", ".join(hits) or "(not found)")
    for p in truth["disqualifiers"]:
        hits = [e.id for e in icp.exclusions if matches(e, p)]
        row(label(p), "exclusion", ", ".join(hits) or "(not found)")
    for p in truth["intent_signals"]:
        windows = [
            f"{s.id} ({s.window_days[0]}-{s.window_days[1]}d)"
            for s in icp.intent
            if _signal_matches(s, p)
        ]
        found = ", ".join(windows)
        if found:
            found += f"; overlap {intent_overlap(icp, p):.2f}"
        planted = f"{label(p)} {p['window_days'][0]}-{p['window_days'][1]}d"
        row(planted, "intent", found or "(not found)")
    for p in truth["decoys"]:
        rules: list[Criterion | Exclusion] = [*icp.fit, *icp.exclusions]
        wrongly = ", ".join(r.id for r in rules if matches(r, p))
        row(label(p), "decoy (must stay out)", f"WRONGLY IN: {wrongly}" if wrongly else "kept out")
    for verdict in judge(icp, truth).of("spurious"):
        row("(nothing planted)", "derived, not planted", verdict.rule_id)
    return rows


# --- intent windows ------------------------------------------------------------------------


def window_overlap(derived: Sequence[tuple[int, int]], planted: tuple[int, int]) -> float:
    """Intersection over union of the days the ``derived`` windows cover together and the
    ``planted`` window (whole days, both ends inclusive). Two windows with a hole between them
    cover less than one spanning both; nothing derived overlaps 0."""
    merged: list[list[int]] = []
    for start, end in sorted(derived):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    low, high = planted
    covered = sum(end - start + 1 for start, end in merged)
    shared = sum(max(0, min(end, high) - max(start, low) + 1) for start, end in merged)
    union = covered + (high - low + 1) - shared
    return shared / union if union else 0.0


def intent_windows(icp: ICP, planted: dict[str, Any]) -> dict[str, list[tuple[int, int]]]:
    """Per detail of a planted intent signal, the windows of the ICP's signals of that type
    that count the detail (a signal with no detail counts every one)."""
    details = planted.get("detail_in") or [""]
    return {
        detail: [
            (s.window_days[0], s.window_days[1])
            for s in icp.intent
            if s.signal == planted["type"]
            and (not s.detail_in or not detail or detail in s.detail_in)
        ]
        for detail in details
    }


def intent_overlap(icp: ICP, planted: dict[str, Any]) -> float:
    """How well the ICP recovers a planted intent window: the mean over its details of
    ``window_overlap`` of the detail's derived windows with the planted window."""
    window = (int(planted["window_days"][0]), int(planted["window_days"][1]))
    found = intent_windows(icp, planted)
    return sum(window_overlap(w, window) for w in found.values()) / len(found)


# --- a rule's cut measured on other data ----------------------------------------------------


@dataclass(frozen=True)
class CutLift:
    """Closed new-business deals a rule matches and the rest, and the win-rate lift between."""

    rule_id: str
    n_in: int
    wins_in: int
    n_out: int
    wins_out: int

    @property
    def lift(self) -> float | None:
        """Win rate of the matched deals over that of the rest; None when either is undefined."""
        if not self.n_in or not self.n_out or not self.wins_out:
            return None
        return (self.wins_in / self.n_in) / (self.wins_out / self.n_out)


def measure_cuts(
    con: duckdb.DuckDBPyConnection, icp: ICP, settings: AnalysisSettings
) -> dict[str, CutLift]:
    """The marginal win-rate lift of each fit criterion, exclusion and intent signal of ``icp``
    on the closed new-business deals of the store behind ``con``: the deals the rule matches,
    evaluated as the scorecard learns it (attributes and signals as of the day each deal was
    created), against all the others. Measured on a much larger sample of the
    generator that made ``icp``'s data, it is the truth the rule's lift interval should cover.
    """
    from icpkit.engines.features import compute_features
    from icpkit.learn.points import closed_deals

    deals = closed_deals(con)
    features = compute_features(con, icp, settings, point_in_time=True)
    won = deals.won.astype(bool)
    out: dict[str, CutLift] = {}
    for j, scored in enumerate(features.rules):
        if scored.rule is None:
            continue
        inside = features.matches[:, j] > 0
        out[scored.id] = CutLift(
            scored.id,
            int(inside.sum()),
            int((won & inside).sum()),
            int((~inside).sum()),
            int((won & ~inside).sum()),
        )
    return out


# --- tiers against the ceiling --------------------------------------------------------------


@dataclass(frozen=True)
class Ceiling:
    """Test wins in the top tiers against the most that as many deals could hold."""

    deals: int  # deals in the top tiers
    wins: int  # test wins among them
    best: float  # expected wins of the same number of deals ranked by true win probability

    @property
    def ratio(self) -> float | None:
        """``wins / best``: 1 when the tiers hold as many wins as the true ranking."""
        return self.wins / self.best if self.best else None


def tier_ceiling(won: np.ndarray, top: np.ndarray, p_win: np.ndarray) -> Ceiling:
    """Wins of the deals marked ``top`` against those of the same number of deals with the
    highest true win probability ``p_win``; deals tied at the cut-off share its wins evenly."""
    won = np.asarray(won, dtype=bool)
    k = int(np.asarray(top, dtype=bool).sum())
    wins = int(won[np.asarray(top, dtype=bool)].sum())
    if k == 0:
        return Ceiling(0, 0, 0.0)
    p = np.asarray(p_win, dtype=np.float64)
    threshold = np.sort(p)[::-1][k - 1]
    above = p > threshold
    tied = p == threshold
    rest = k - int(above.sum())
    best = float(won[above].sum()) + rest * float(won[tied].mean())
    return Ceiling(k, wins, best)
