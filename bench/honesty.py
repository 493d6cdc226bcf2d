"""Statistical honesty benchmark: does icpkit find what is there, and only that?

One run measures, in one process, every figure of "statistical honesty at the edges":

1. ``type1``: type-I error of the win-rate test behind every lift row
   (``stats.rate_difference``) at a nominal 5%, for 2-30 accounts in a cut and intra-account
   correlation 0, 0.2 and 0.5. Target: every cell between 3% and 7%.
2. ``shuffled``: demo CRMs of 600, 5,000 and 50,000 deals with the closed new-business deals'
   outcomes permuted across deals (and the churn flags across customers), derived again per
   permutation. Target: no criterion (fit, exclusion or intent) in at least 95% of runs.
3. ``recovery``: 10 generator seeds at 5,000 deals, each rule judged against the planted truth
   (``icpkit.demo.judge``). Target: every planted fit criterion and exclusion, no decoy, at most
   0.3 spurious rules a run on average; planted intent windows recovered with a median overlap
   (intersection over union of the days) of at least 0.8 at 5,000 deals and 0.9 at 50,000.
4. ``coverage``: each derived rule's reported 95% lift interval against the lift of the same
   cut on a 50x larger sample of the generator (another seed). Target: at least 93% covered.
5. ``whales``: null data (a demo CRM with shuffled outcomes) plus 1, 2, 3 or 5 accounts with
   hundreds of deals each and a high win rate of their own, in a rare industry and country.
   Target: nothing derived.
6. ``ceiling``: the backtest's tiers A-B against the same number of test deals ranked by the
   generator's true win probability. Target: at least 95% of those wins.

Everything runs through the library (``Workspace.ingest``, ``derive``, ``backtest``), so the
figures are those of the derivation as it is. Temporary workspaces are removed at the end.

Usage: ``python bench/honesty.py [--seed 1] [--quick] [--only SECTION ...]``
(``--quick``: a smoke run of a minute or two with far fewer replications.)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import shutil
import statistics
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from icpkit.analysis import churn, stats
from icpkit.demo import DemoFiles, make_crm
from icpkit.demo.judge import (
    intent_overlap,
    intent_windows,
    judge,
    measure_cuts,
    tier_ceiling,
)
from icpkit.icp.model import ICP
from icpkit.workspace import Workspace

ALPHA = 0.05
MET, NOT_MET = "target met", "not met"


def verdict(ok: bool) -> str:
    return MET if ok else NOT_MET


@dataclass(frozen=True)
class Plan:
    """How many replications each section runs."""

    type1_reps: int
    shuffled: dict[int, int]  # deals -> permutations
    recovery_seeds: int  # at 5,000 deals
    window_seeds_large: int  # at 50,000 deals
    truth_deals: int  # the large sample that coverage is judged against
    whale_reps: int
    whale_base: int  # deals of the null CRM the whales join
    ceiling_seeds: int


FULL = Plan(600, {600: 20, 5_000: 20, 50_000: 20}, 10, 3, 250_000, 10, 5_000, 10)
QUICK = Plan(60, {600: 1, 5_000: 1, 50_000: 1}, 2, 1, 25_000, 1, 2_000, 1)
SIZE = 5_000  # deals of the recovery, coverage and ceiling CRMs
LARGE = 50_000


@dataclass
class Section:
    """A section's printed result: markdown lines and its targets with their verdicts."""

    title: str
    lines: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, str, str]] = field(default_factory=list)  # what, got, want, v
    seconds: float = 0.0

    def add(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def target(self, what: str, got: str, want: str, ok: bool) -> None:
        self.targets.append((what, got, want, verdict(ok)))


def derived_criteria(icp: ICP) -> list[str]:
    """Ids of the derived criteria: fit, exclusions and intent (boundary conditions describe
    the market, they do not discriminate)."""
    return [
        item.id
        for name in ("fit", "exclusions", "intent")
        for item in getattr(icp, name)
        if item.source == "derived"
    ]


class Lab:
    """Demo CRMs generated and ingested once per (size, seed), and their derived ICPs."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self._demos: dict[tuple[int, int], tuple[DemoFiles, Workspace]] = {}
        self._icps: dict[tuple[int, int], ICP] = {}
        self._copies = 0

    def demo(self, n: int, seed: int) -> tuple[DemoFiles, Workspace]:
        key = (n, seed)
        if key not in self._demos:
            folder = self.root / f"demo-{n}-{seed}"
            files = make_crm(n, seed, folder / "data")
            ws = Workspace.init(folder / "ws")
            result = ws.ingest(files.exports())
            assert result.ok, result.failures
            self._demos[key] = (files, ws)
        return self._demos[key]

    def derived(self, n: int, seed: int) -> ICP:
        key = (n, seed)
        if key not in self._icps:
            self._icps[key] = self.demo(n, seed)[1].derive().icp
        return self._icps[key]

    def copy(self, ws: Workspace) -> Workspace:
        """A fresh workspace holding a copy of ``ws``'s store (and no ICP yet)."""
        self._copies += 1
        target = Workspace.init(self.root / f"copy-{self._copies}")
        for suffix in ("", ".wal"):
            source = Path(f"{ws.store_path}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{target.store_path}{suffix}")
        return target


def shuffle_outcomes(ws: Workspace, rng: np.random.Generator, keep: tuple[str, ...] = ()) -> None:
    """Permute the outcomes of the closed new-business deals across deals, and the churn flags
    (with their dates) across the accounts that have one: every link between attributes and
    outcomes is broken. Deals and accounts loaded from the files ``keep`` stay as they are."""
    listed = ", ".join(f"'{name}'" for name in keep)
    spared = f"AND coalesce(source_file, '') NOT IN ({listed})" if keep else ""
    with ws.connect() as con:
        closed = con.execute(
            f"""SELECT deal_key, outcome FROM deals WHERE outcome IN ('won', 'lost')
                AND NOT is_expansion {spared} ORDER BY deal_key"""
        ).fetchall()
        keys, outcomes = [k for k, _ in closed], [o for _, o in closed]
        order = rng.permutation(len(outcomes))
        # Lists travel as two parameters and are unnested in SQL: one statement, not one a row.
        con.execute(
            """CREATE TEMP TABLE shuffled AS
               SELECT unnest(?::VARCHAR[]) AS deal_key, unnest(?::VARCHAR[]) AS outcome""",
            [keys, [outcomes[i] for i in order.tolist()]],
        )
        con.execute(
            """UPDATE deals SET outcome = s.outcome FROM shuffled s
               WHERE deals.deal_key = s.deal_key"""
        )
        accounts = con.execute(
            f"""SELECT account_key, churned, churn_date FROM accounts
                WHERE churned IS NOT NULL {spared} ORDER BY account_key"""
        ).fetchall()
        if not accounts:
            return
        order = rng.permutation(len(accounts)).tolist()
        con.execute(
            """CREATE TEMP TABLE churn AS
               SELECT unnest(?::VARCHAR[]) AS account_key, unnest(?::BOOLEAN[]) AS churned,
                      unnest(?::TIMESTAMP[]) AS churn_date""",
            [
                [a[0] for a in accounts],
                [accounts[i][1] for i in order],
                [accounts[i][2] for i in order],
            ],
        )
        con.execute(
            """UPDATE accounts SET churned = c.churned, churn_date = c.churn_date
               FROM churn c WHERE accounts.account_key = c.account_key"""
        )


@dataclass
class NullRuns:
    """Derives on data with no real signal: how many derived nothing, what they found, and
    the crashes (a crash is a finding, reported, never hidden)."""

    none: int = 0
    counts: list[int] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    churn: int = 0  # runs that derived a churn exclusion

    def derive(self, ws: Workspace) -> None:
        """Derive on ``ws`` and count its derived criteria."""
        try:
            icp = ws.derive().icp
        except Exception as exc:  # any crash is reported, not hidden
            self.errors[f"{type(exc).__name__}: {exc}"] += 1
            self.counts.append(0)
            return
        rules = derived_criteria(icp)
        self.churn += any(e.kind == "churn" and e.source == "derived" for e in icp.exclusions)
        self.none += not rules
        self.counts.append(len(rules))
        self.seen.update(rules)

    @property
    def mean(self) -> float:
        return statistics.mean(self.counts) if self.counts else 0.0

    def found(self) -> str:
        """The most frequent criteria found, and the crashes."""
        text = ", ".join(f"{r} x{c}" for r, c in self.seen.most_common(4)) or "-"
        if self.errors:
            text += "; errors: " + "; ".join(f"{e} x{c}" for e, c in self.errors.items())
        return text


# --- 1. type-I error -----------------------------------------------------------------------

ACCOUNTS_PER_CUT = (2, 3, 5, 10, 30)
CORRELATIONS = (0.0, 0.2, 0.5)
REST_ACCOUNTS = 150
BASE_RATE = 0.3
DEALS_MEAN = 6.0


def account_rates(m: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Win rates of m accounts: Beta(p s, (1-p) s) with s = 1/rho - 1, so the correlation of
    two deals of one account is rho; every account at the base rate when rho is 0."""
    if rho <= 0:
        return np.full(m, BASE_RATE)
    strength = 1 / rho - 1
    return rng.beta(BASE_RATE * strength, (1 - BASE_RATE) * strength, m)


def type_one_error(k: int, rho: float, reps: int, rng: np.random.Generator) -> float:
    """Share of null data sets where the cut of k accounts tests significant at ALPHA."""
    rejected = 0
    m = k + REST_ACCOUNTS
    in_group = np.arange(m) < k
    for _ in range(reps):
        deals = rng.geometric(1 / DEALS_MEAN, m)
        wins = rng.binomial(deals, account_rates(m, rho, rng))
        if stats.rate_difference(wins, deals, in_group).p_value < ALPHA:
            rejected += 1
    return rejected / reps


def section_type1(lab: Lab, plan: Plan) -> Section:
    out = Section("Type-I error of the win-rate test")
    reps = plan.type1_reps
    rng = np.random.default_rng([lab.seed, 1])
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    out.add(
        f"Null data, nominal {ALPHA:.0%}: a cut of k accounts against a rest of {REST_ACCOUNTS}, "
        f"account win rates Beta with mean {BASE_RATE} and intra-account correlation (ICC) rho, "
        f"1 + geometric deals per account (mean {DEALS_MEAN:g}); {reps} replications a cell "
        f"(standard error about {se:.1%})."
    )
    out.add()
    out.add("| accounts in the cut | " + " | ".join(f"ICC {r:g}" for r in CORRELATIONS) + " |")
    out.add("| ---: |" + " ---: |" * len(CORRELATIONS))
    cells: list[float] = []
    for k in ACCOUNTS_PER_CUT:
        row = [type_one_error(k, rho, reps, rng) for rho in CORRELATIONS]
        cells += row
        out.add(f"| {k} | " + " | ".join(f"{c:.1%}" for c in row) + " |")
    inside = sum(0.03 <= c <= 0.07 for c in cells)
    out.add()
    out.target(
        "type-I error, every cell",
        f"{inside}/{len(cells)} cells in 3-7% (range {min(cells):.1%}-{max(cells):.1%})",
        "all in 3-7%",
        inside == len(cells),
    )
    return out


# --- 1b. type-I error of the churn test ------------------------------------------------------

CUSTOMERS_PER_CUT = (2, 3, 5, 10, 30)
CHURN_RATES = (0.1, 0.2, 0.3)
REST_CUSTOMERS = 150
TENURE_YEARS = 4  # customers won uniformly over this many years before the export
AT_RISK_CUTS = (10, 30)


def churn_type_one_error(
    k: int, rate: float, reps: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Share of null data sets where a cut of k customers tests significant at ALPHA, and the
    share where it does so churning more (the direction an exclusion takes)."""
    rejected = more = 0
    m = k + REST_CUSTOMERS
    starts = np.array([0, k])
    for _ in range(reps):
        flags = (rng.random(m) < rate).astype(np.int64)
        c = churn.flag_differences(flags, starts)[0]
        if c.p_value < ALPHA:
            rejected += 1
            more += c.rate_in > c.rate_out
    return rejected / reps, more / reps


def at_risk_error(
    k: int, yearly: float, by_tenure: bool, reps: int, rng: np.random.Generator
) -> float:
    """Type-I error when the cut holds only customers won in the oldest half of the years
    and every customer churns at the same ``yearly`` hazard: the cut has simply been at risk
    longer. With ``by_tenure`` customers are compared within whole years since their first
    win (what the lift table does), else all together."""
    rejected = 0
    m = k + REST_CUSTOMERS
    starts = np.array([0, k])
    for _ in range(reps):
        years = np.r_[
            rng.uniform(TENURE_YEARS / 2, TENURE_YEARS, k), rng.uniform(0, TENURE_YEARS, m - k)
        ]
        flags = (rng.random(m) < 1 - (1 - yearly) ** years).astype(np.int64)
        since = np.floor((TENURE_YEARS - years) * 365).astype(np.int64)
        bands = churn.tenure_bands(since) if by_tenure else None
        rejected += churn.flag_differences(flags, starts, bands)[0].p_value < ALPHA
    return rejected / reps


def section_churn_type1(lab: Lab, plan: Plan) -> Section:
    out = Section("Type-I error of the churn test")
    reps = plan.type1_reps
    rng = np.random.default_rng([lab.seed, 7])
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    out.add(
        f"Null data, nominal {ALPHA:.0%}: a cut of k customers against a rest of "
        f"{REST_CUSTOMERS}, every customer churned with the same probability, tested as every "
        "lift row's churn is (`icpkit.analysis.churn.flag_differences`: exact, customers as "
        f"units); {reps} replications a cell (standard error about {se:.1%}). In brackets: "
        "the share significant with the cut churning more, the only direction that becomes "
        "an exclusion."
    )
    out.add()
    out.add("| customers in the cut | " + " | ".join(f"churn {r:.0%}" for r in CHURN_RATES) + " |")
    out.add("| ---: |" + " ---: |" * len(CHURN_RATES))
    cells: list[float] = []
    for k in CUSTOMERS_PER_CUT:
        row = [churn_type_one_error(k, rate, reps, rng) for rate in CHURN_RATES]
        cells += [c for c, _ in row]
        out.add(f"| {k} | " + " | ".join(f"{c:.1%} ({u:.1%})" for c, u in row) + " |")
    out.add()
    # A cell above nominal by more than twice its simulation error is a failure.
    ceiling = ALPHA + 2 * se
    within = sum(c <= ceiling for c in cells)
    out.target(
        "churn test type-I error, every cell",
        f"{within}/{len(cells)} cells at most {ceiling:.1%} (range {min(cells):.1%}-"
        f"{max(cells):.1%})",
        f"at most {ALPHA:.0%} (+2 s.e.)",
        within == len(cells),
    )
    out.add(
        f"Time at risk: customers won over {TENURE_YEARS} years, each churning at the same "
        "yearly hazard; the cut holds only customers won in the oldest half of those years. "
        f"{reps} replications a cell."
    )
    out.add()
    out.add(
        "| customers in the cut | yearly hazard | all customers together | within tenure years |"
    )
    out.add("| ---: | ---: | ---: | ---: |")
    adjusted: list[float] = []
    for k in AT_RISK_CUTS:
        for yearly in (0.05, 0.1):
            crude = at_risk_error(k, yearly, False, reps, rng)
            by_year = at_risk_error(k, yearly, True, reps, rng)
            adjusted.append(by_year)
            out.add(f"| {k} | {yearly:.0%} | {crude:.1%} | {by_year:.1%} |")
    out.add()
    within = sum(c <= ceiling for c in adjusted)
    out.target(
        "churn test type-I error, cut of older customers (within tenure years)",
        f"{within}/{len(adjusted)} cells at most {ceiling:.1%} (range {min(adjusted):.1%}-"
        f"{max(adjusted):.1%})",
        f"at most {ALPHA:.0%} (+2 s.e.)",
        within == len(adjusted),
    )
    return out


# --- 2. shuffled outcomes --------------------------------------------------------------------


def section_shuffled(lab: Lab, plan: Plan) -> Section:
    out = Section("Criteria derived on shuffled outcomes")
    out.add(
        "Demo CRM (generator seed --seed), ingested once per size; per permutation a copy of "
        "the store with the closed new-business deals' outcomes permuted across deals and the "
        "churn flags across customers, then `derive`. Counted: derived fit criteria, "
        "exclusions and intent signals."
    )
    out.add()
    out.add(
        "| deals | permutations | runs with none | runs with a churn exclusion | mean criteria "
        "| s per derive | found |"
    )
    out.add("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for n, perms in plan.shuffled.items():
        _, base = lab.demo(n, lab.seed)
        runs, took = NullRuns(), 0.0
        for i in range(perms):
            ws = lab.copy(base)
            shuffle_outcomes(ws, np.random.default_rng([lab.seed, 2, n, i]))
            started = time.perf_counter()
            runs.derive(ws)
            took += time.perf_counter() - started
            shutil.rmtree(ws.root)
        none = runs.none
        share = none / perms
        out.add(
            f"| {n:,} | {perms} | {none} ({share:.0%}) | {runs.churn} | {runs.mean:.2f} | "
            f"{took / perms:.1f} | {runs.found()} |"
        )
        out.target(
            f"shuffled outcomes, {n:,} deals: runs with no criterion",
            f"{none}/{perms} ({share:.0%})",
            ">= 95%",
            share >= 0.95,
        )
    out.add()
    return out


# --- 3. recovery of the planted truth --------------------------------------------------------


def truth_of(files: DemoFiles) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files.planted_truth.read_text(encoding="utf-8"))
    return data


def window_name(planted: dict[str, Any]) -> str:
    low, high = planted["window_days"]
    return f"{planted['type']} {'/'.join(planted['detail_in'])} [{low}, {high}]"


def derived_windows(icp: ICP, planted: dict[str, Any]) -> str:
    """The ICP's windows for each detail of a planted signal: 'Series A 60-540; Series B none'."""
    return "; ".join(
        f"{detail} " + (", ".join(f"{a}-{b}" for a, b in sorted(found)) or "none")
        for detail, found in intent_windows(icp, planted).items()
    )


def section_recovery(lab: Lab, plan: Plan) -> Section:
    out = Section("Recovery of the planted truth")
    seeds = [lab.seed + i for i in range(plan.recovery_seeds)]
    out.add(
        f"{len(seeds)} generator seeds ({seeds[0]}-{seeds[-1]}) at {SIZE:,} deals; each derived "
        "fit criterion, exclusion and intent signal judged against planted_truth.json "
        "(`icpkit.demo.judge`: planted, decoy or spurious). Window overlap: intersection over "
        "union of the days the derived windows of each planted detail cover and the planted "
        "window, averaged over the planted details."
    )
    out.add()
    windows: dict[str, list[float]] = {}
    out.add("| seed | planted found | missing | decoys | spurious | windows (overlap) |")
    out.add("| ---: | ---: | --- | ---: | --- | --- |")
    complete, decoys, spurious = 0, 0, []
    for s in seeds:
        files, _ = lab.demo(SIZE, s)
        icp = lab.derived(SIZE, s)
        truth = truth_of(files)
        j = judge(icp, truth)
        planted_total = len(truth["discriminators"]) + len(truth["disqualifiers"])
        complete += j.recovered
        decoys += j.decoys
        spurious.append(j.spurious)
        overlaps = []
        for p in truth["intent_signals"]:
            value = intent_overlap(icp, p)
            windows.setdefault(window_name(p), []).append(value)
            overlaps.append(f"{p['type']} {value:.2f} ({derived_windows(icp, p)})")
        out.add(
            f"| {s} | {planted_total - len(j.missing)}/{planted_total} | "
            f"{', '.join(j.missing) or '-'} | {j.decoys} | "
            f"{j.spurious}: {', '.join(v.rule_id for v in j.of('spurious')) or '-'} | "
            f"{', '.join(overlaps)} |"
        )
    out.add()
    mean_spurious = statistics.mean(spurious)
    out.target(
        f"planted fit criteria and exclusions, {SIZE:,} deals",
        f"all in {complete}/{len(seeds)} runs",
        "all, every run",
        complete == len(seeds),
    )
    out.target(
        f"decoys derived, {SIZE:,} deals", f"{decoys} in {len(seeds)} runs", "none", decoys == 0
    )
    out.target(
        f"spurious criteria per run, {SIZE:,} deals",
        f"{mean_spurious:.2f}",
        "<= 0.3",
        mean_spurious <= 0.3,
    )
    for name, values in windows.items():
        median = statistics.median(values)
        out.target(
            f"window {name}, {SIZE:,} deals, median overlap",
            f"{median:.2f} (min {min(values):.2f})",
            ">= 0.8",
            median >= 0.8,
        )
    large = [lab.seed + i for i in range(plan.window_seeds_large)]
    out.add(f"Intent windows at {LARGE:,} deals, seeds {', '.join(map(str, large))}:")
    out.add()
    out.add("| seed | window | derived windows | overlap |")
    out.add("| ---: | --- | --- | ---: |")
    big: dict[str, list[float]] = {}
    for s in large:
        files, _ = lab.demo(LARGE, s)
        icp = lab.derived(LARGE, s)
        for p in truth_of(files)["intent_signals"]:
            value = intent_overlap(icp, p)
            big.setdefault(window_name(p), []).append(value)
            out.add(f"| {s} | {window_name(p)} | {derived_windows(icp, p)} | {value:.2f} |")
    out.add()
    for name, values in big.items():
        median = statistics.median(values)
        out.target(
            f"window {name}, {LARGE:,} deals, median overlap",
            f"{median:.2f} (min {min(values):.2f})",
            ">= 0.9",
            median >= 0.9,
        )
    return out


# --- 4. coverage of the lift intervals -------------------------------------------------------


def section_coverage(lab: Lab, plan: Plan) -> Section:
    out = Section("Coverage of the reported lift intervals")
    seeds = [lab.seed + i for i in range(plan.recovery_seeds)]
    truth_seed = lab.seed + 10_000
    out.add(
        f"Each derived rule's 95% lift interval (fit, exclusions, intent; {len(seeds)} seeds at "
        f"{SIZE:,} deals) against the lift of the same cut (deals the rule matches, as the "
        "scorecard learns it: attributes and signals as of each deal's creation; against all "
        "other closed new-business deals) on one "
        f"{plan.truth_deals:,}-deal sample of the generator (seed {truth_seed}, "
        f"{plan.truth_deals // SIZE}x larger)."
    )
    out.add()
    _, big = lab.demo(plan.truth_deals, truth_seed)
    total, covered, misses = 0, 0, []
    with big.connect(read_only=True) as con:
        for s in seeds:
            icp = lab.derived(SIZE, s)
            truth = truth_of(lab.demo(SIZE, s)[0])
            kinds = {v.rule_id: v.kind for v in judge(icp, truth).verdicts}
            cuts = measure_cuts(con, icp, big.settings.analysis)
            for name in ("fit", "exclusions", "intent"):
                for rule in getattr(icp, name):
                    ev = rule.evidence
                    if ev is None or ev.lift_ci is None or rule.id not in cuts:
                        continue
                    lift = cuts[rule.id].lift
                    if lift is None:
                        continue
                    total += 1
                    low, high = ev.lift_ci
                    if low <= lift <= high:
                        covered += 1
                    else:
                        misses.append(
                            f"| {s} | {rule.id} ({kinds.get(rule.id, '?')}) | {ev.lift:.2f} "
                            f"({low:.2f}-{high:.2f}) | {lift:.2f} |"
                        )
    share = covered / total if total else float("nan")
    out.add(f"{covered} of {total} intervals cover the large-sample lift ({share:.1%}).")
    if misses:
        out.add()
        out.add("| seed | rule (judged) | reported lift (95% CI) | large-sample lift |")
        out.add("| ---: | --- | --- | ---: |")
        for line in misses:
            out.add(line)
    out.add()
    out.target(
        "95% lift intervals covering the large-sample lift",
        f"{covered}/{total} ({share:.1%})",
        ">= 93%",
        total > 0 and share >= 0.93,
    )
    return out


# --- 5. whales --------------------------------------------------------------------------------

WHALE_COUNTS = (1, 2, 3, 5)
WHALE_FILES = ("whales-companies.csv", "whales-deals.csv")


def write_whales(files: DemoFiles, k: int, rng: np.random.Generator) -> list[Path]:
    """k whale accounts in the demo export layout: a rare industry and country (Mining & Metals,
    New Zealand), one employee band, hundreds of new-business deals each, won at a high rate of
    the account's own (55-75%): an idiosyncrasy of a few accounts, not a segment's signal."""
    with files.companies.open(encoding="utf-8-sig", newline="") as fh:
        company_header = next(csv.reader(fh))
    with files.deals.open(encoding="utf-8", newline="") as fh:
        deal_header = next(csv.reader(fh))
    companies, deals = [], []
    start = dt.date(2022, 1, 1)
    for w in range(k):
        cid, name = str(5_190_000_000 + w), f"Kaitoa Whale {w + 1} Mining Ltd"
        companies.append(
            {
                "Record ID": cid,
                "Company name": name,
                "Company Domain Name": f"kaitoawhale{w + 1}.co.nz",
                "Number of Employees": str(400 + 50 * w),
                "Annual Revenue": "80000000",
                "Industry": "Mining & Metals",
                "Country/Region": "New Zealand",
                "City": "Auckland",
                "Year Founded": "1998",
                "Web Technologies": "Zendesk;Jira;Google Analytics",
                "Create Date": "2021-06-01 09:00",
                "Lifecycle Stage": "Customer",
                "Time Zone": "Pacific/Auckland",
                "Lead Source": "Referral",
                "Churned": "No",
            }
        )
        rate = rng.uniform(0.55, 0.75)
        for d in range(int(rng.integers(150, 301))):
            created = start + dt.timedelta(days=int(rng.integers(0, 1_250)))
            closed = created + dt.timedelta(days=int(rng.integers(20, 121)))
            deals.append(
                {
                    "Record ID": str(9_900_000_000 + 1_000 * w + d),
                    "Deal Name": f"{name} - New Business",
                    "Deal Stage": "Closed Won" if rng.random() < rate else "Closed Lost",
                    "Pipeline": "Sales Pipeline",
                    "Amount": "9000",
                    "Close Date": closed.strftime("%m/%d/%Y"),
                    "Create Date": f"{created.isoformat()} 10:00",
                    "Deal Type": "New Business",
                    "Deal owner": "Tom O'Brien",
                    "Associated Company IDs": cid,
                    "Associated Company": name,
                }
            )
    paths = []
    for file_name, header, rows in (
        (WHALE_FILES[0], company_header, companies),
        (WHALE_FILES[1], deal_header, deals),
    ):
        path = files.out_dir / file_name
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, header, restval="")
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def section_whales(lab: Lab, plan: Plan) -> Section:
    out = Section("Whales on null data")
    out.add(
        f"A {plan.whale_base:,}-deal demo CRM with shuffled outcomes and churn flags (no real "
        "signal) plus k whale accounts: 150-300 new-business deals each, won at 55-75% "
        "(the account's own rate), all in Mining & Metals, New Zealand, Pacific/Auckland, "
        "with the same employee band, tools and lead source (Referral); "
        f"{plan.whale_reps} replication(s) a scenario, each "
        "on its own generator seed."
    )
    out.add()
    out.add("| whales | runs with none | runs with a churn exclusion | mean criteria | found |")
    out.add("| ---: | ---: | ---: | ---: | --- |")
    for k in WHALE_COUNTS:
        runs = NullRuns()
        for rep in range(plan.whale_reps):
            folder = lab.root / f"whales-{k}-{rep}"
            files = make_crm(plan.whale_base, lab.seed + 100 + rep, folder / "data")
            whales = write_whales(files, k, np.random.default_rng([lab.seed, 5, k, rep]))
            ws = Workspace.init(folder / "ws")
            result = ws.ingest([*files.exports(), *whales])
            assert result.ok, result.failures
            shuffle_outcomes(ws, np.random.default_rng([lab.seed, 5, k, rep, 1]), WHALE_FILES)
            runs.derive(ws)
            shutil.rmtree(folder)
        none = runs.none
        reps = plan.whale_reps
        out.add(f"| {k} | {none}/{reps} | {runs.churn} | {runs.mean:.2f} | {runs.found()} |")
        out.target(
            f"whales: {k} on null data, runs deriving nothing",
            f"{none}/{reps}",
            "all",
            none == reps,
        )
    out.add()
    return out


# --- 6. tiers against the ceiling ------------------------------------------------------------


def section_ceiling(lab: Lab, plan: Plan) -> Section:
    out = Section("Tier quality against the ceiling")
    seeds = [lab.seed + i for i in range(plan.ceiling_seeds)]
    out.add(
        f"`Workspace.backtest` (30% newest closed deals as test) at {SIZE:,} deals, seeds "
        f"{seeds[0]}-{seeds[-1]}: test wins in tiers A-B against the expected wins of the same "
        "number of test deals ranked by the generator's true win probability "
        "(deal_truth.csv `p_win`)."
    )
    out.add()
    out.add("| seed | test deals | test wins | deals in A-B | wins in A-B | ceiling wins | ratio |")
    out.add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    wins, best, ratios = 0, 0.0, []
    for s in seeds:
        files, ws = lab.demo(SIZE, s)
        result = ws.backtest(challengers=False, n_boot=20)
        p = files.win_probabilities()
        p_win = np.array([p[k] for k in result.deals.keys])
        top = np.isin(result.scores.tier, ["A", "B"])
        c = tier_ceiling(result.deals.won, top, p_win)
        wins += c.wins
        best += c.best
        ratio = c.ratio if c.ratio is not None else float("nan")
        ratios.append(ratio)
        out.add(
            f"| {s} | {result.test_deals:,} | {result.test_wins:,} | {c.deals:,} | {c.wins:,} | "
            f"{c.best:.1f} | {ratio:.1%} |"
        )
    pooled = wins / best if best else float("nan")
    at_target = sum(r >= 0.95 for r in ratios)
    out.add()
    out.add(f"Pooled: {wins:,} wins in A-B against {best:.1f} at the ceiling ({pooled:.1%}).")
    out.add()
    out.target(
        "tiers A-B wins / ceiling (pooled over seeds)",
        f"{pooled:.1%} ({at_target}/{len(seeds)} seeds >= 95%)",
        ">= 95%",
        pooled >= 0.95,
    )
    return out


SECTIONS: dict[str, Callable[[Lab, Plan], Section]] = {
    "type1": section_type1,
    "churn_type1": section_churn_type1,
    "shuffled": section_shuffled,
    "recovery": section_recovery,
    "coverage": section_coverage,
    "whales": section_whales,
    "ceiling": section_ceiling,
}


def markdown(done: list[Section], args: argparse.Namespace, total: float) -> str:
    """The block for BENCHMARKS.md: the command, the summary of targets, then each section."""
    command = f"python bench/honesty.py --seed {args.seed}" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    lines = [
        f"Measured {dt.date.today().isoformat()}: `{command}` ({total / 60:.1f} min in all"
        + (", QUICK RUN: far fewer replications than the full run" if args.quick else "")
        + ").",
        "",
        "| figure | measured | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {w} | {g} | {t} | {v} |" for s in done for (w, g, t, v) in s.targets]
    for s in done:
        body = list(s.lines)
        while body and not body[-1]:
            body.pop()
        lines += ["", f"### {s.title} ({s.seconds:.0f} s)", "", *body]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a minute or two")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run these sections")
    parser.add_argument("--reps", type=int, help="type-I replications per cell")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = replace(plan, type1_reps=args.reps)
    started = time.perf_counter()
    done: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="icpkit-honesty-") as tmp:
        lab = Lab(Path(tmp), args.seed)
        for name in args.only or list(SECTIONS):
            print(f"\n## {name}\n", flush=True)
            begun = time.perf_counter()
            try:
                section = SECTIONS[name](lab, plan)
            except Exception as exc:  # a crash is a finding: report it, run the other sections
                traceback.print_exc()
                section = Section(f"{name} (crashed)")
                section.add(f"The section crashed: {type(exc).__name__}: {exc}")
                section.target(f"{name}: section ran", "crashed", "ran", False)
            section.seconds = time.perf_counter() - begun
            print(f"[{name}: {section.seconds:.0f} s]", flush=True)
            done.append(section)
    total = time.perf_counter() - started
    print("\n<!-- BENCHMARKS.md: Honesty -->")
    print(markdown(done, args, total))
    print("<!-- end -->")
    print(f"\n{total:.0f} s")


if __name__ == "__main__":
    main()
