"""Won versus lost: which attribute values separate the deals a company wins from those it loses.

For every value of every attribute: its share among won, lost (and churned) deals, the
win rate of the deals worked there against the rest of the attribute, lift with a
cluster-robust interval (accounts, not deals, are the independent units), weight of
evidence, information value, and a p-value adjusted for the many values tested at once
(Benjamini-Hochberg within each family: fit win rates, intent win rates, churn). Each value
is then classed:

- **discriminator**: wins significantly more often (belongs in the ICP),
- **disqualifier**: wins significantly less often, or churns significantly more (anti-ICP),
- **market descriptor**: common among wins and losses alike (the boundary, not the priority),
- **not enough evidence**: everything else, including cuts too thin to tell.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from icpkit.analysis import stats
from icpkit.analysis.churn import flag_differences, tenure_bands
from icpkit.analysis.frame import Attribute, Cut, Frame
from icpkit.attributes import MISSING, NONE_SEEN
from icpkit.config import AnalysisSettings

Verdict = Literal["discriminator", "disqualifier", "market descriptor", "not enough evidence"]


@dataclass
class LiftRow:
    """The evidence about one attribute value."""

    attribute: str
    value: str
    family: str
    kind: str
    n_closed: int
    wins: int
    n_accounts: int
    win_rate: float
    win_rate_ci: tuple[float, float]
    shrunk_rate: float
    share_won: float
    share_lost: float
    lift: float
    lift_ci: tuple[float, float]
    difference: float
    difference_ci: tuple[float, float]
    p_value: float
    woe: float
    test: str
    churn_rate: float | None = None
    churn_lift: float | None = None
    churn_p_value: float | None = None
    tier1_rate: float | None = None
    tier1_lift: float | None = None
    tier1_p_value: float | None = None
    q_value: float = 1.0
    churn_q_value: float | None = None
    tier1_q_value: float | None = None
    verdict: Verdict = "not enough evidence"
    why: str = ""
    thin: bool = False
    n_accounts_rest: int = 0
    # Customers (won accounts whose churn is known) in the cut and in the rest of its
    # attribute: the units of the churn test, too few of them and it decides nothing.
    churn_customers: int = 0
    churn_customers_rest: int = 0


@dataclass
class LiftResult:
    """All values of all attributes, the base rates, and what cannot be concluded."""

    rows: list[LiftRow]
    information_value: dict[str, float]
    n_closed: int
    n_won: int
    n_accounts: int
    base_rate: float
    warnings: list[str] = field(default_factory=list)

    def by_verdict(self, verdict: Verdict) -> list[LiftRow]:
        """Rows of one class, strongest first."""
        rows = [r for r in self.rows if r.verdict == verdict]
        return sorted(rows, key=lambda r: (r.q_value, -abs(math.log(max(r.lift, 1e-9)))))


def _starts(sizes: list[int]) -> np.ndarray:
    """Where each of consecutive runs of ``sizes`` rows begins."""
    starts: np.ndarray = np.r_[0, np.cumsum(sizes[:-1], dtype=np.int64)].astype(np.int64)
    return starts


# Threads measuring the attributes (see lift_table), and the accounts an attribute's values
# hold from which its measuring is numpy's work more than the interpreter's.
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_POOLED_ACCOUNTS = 100_000


def _among_customers(
    per_account: np.ndarray, attr: Attribute, cuts: list[Cut], bands: np.ndarray | None = None
) -> list[stats.Comparison | None]:
    """Per cut: the rate of a per-customer flag (1 or 0; -1 unknown) among the customers won
    in the cut against those won in the attribute's other cuts: churn, or being Tier 1. The
    test is exact, customers compared within their tenure band (``bands`` per account, from
    :func:`icpkit.analysis.churn.tenure_bands`; one band when None): see icpkit.analysis.churn."""
    if not attr.account_level or not (per_account >= 0).any():
        return [None] * len(cuts)
    flags: list[np.ndarray] = []
    band_of: list[np.ndarray] = []
    for cut in cuts:
        customers = cut.accounts[cut.wins > 0]
        known = customers[per_account[customers] >= 0]
        flags.append(per_account[known].astype(np.int64))
        band_of.append(bands[known] if bands is not None else np.zeros(known.size, np.int64))
    sizes = [f.size for f in flags]
    total = sum(sizes)
    if total == 0:
        return [None] * len(cuts)
    comparisons = flag_differences(np.concatenate(flags), _starts(sizes), np.concatenate(band_of))
    return [c if 0 < size < total else None for c, size in zip(comparisons, sizes, strict=True)]


def _customer_bands(frame: Frame) -> np.ndarray | None:
    """Each account's tenure band (whole years since its first win), or None when the frame
    does not know when its customers were won."""
    since = frame.customer_since
    if since is None or len(since) != len(frame.churned):
        return None
    return tenure_bands(since)


def lift_table(frame: Frame, settings: AnalysisSettings) -> LiftResult:
    """Compare every attribute value with the rest of its attribute; class each value."""
    n_won, n_lost = frame.n_won, frame.n_closed - frame.n_won
    base = frame.n_won / frame.n_closed if frame.n_closed else math.nan
    result = LiftResult([], {}, frame.n_closed, frame.n_won, frame.n_accounts, base)
    result.warnings.extend(_thin_data_warnings(frame, settings))
    if result.warnings and (n_won == 0 or n_lost == 0 or frame.n_closed < 2):
        return result

    is_tier1 = np.where(frame.tiers > 0, (frame.tiers == 1).astype(np.int8), -1)
    bands = _customer_bands(frame)
    profiled = [attr for attr in frame.attributes if attr.profiled]

    def rows_of(attr: Attribute) -> tuple[float, list[LiftRow]]:
        return _attribute_rows(frame, attr, settings, base, is_tier1, bands)

    # Each attribute is measured on its own; the rows keep the attributes' order. Those
    # whose measuring is mostly numpy's (many accounts; an intent signal's thin windows,
    # tested by permutation) go to a pool, where numpy releases the interpreter and they run
    # beside the rest; the others, mostly the interpreter's, are measured here meanwhile:
    # on the pool they would take turns with it (1,057 custom columns: 4.6 s, 3.1 s here).
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        pooled = {
            attr.name: pool.submit(rows_of, attr) for attr in profiled if _numpy_bound(frame, attr)
        }
        for attr in profiled:
            running = pooled.get(attr.name)
            iv, rows = running.result() if running is not None else rows_of(attr)
            result.information_value[attr.name] = iv
            result.rows.extend(rows)
    _adjust_and_classify(result.rows, settings)
    return result


def _numpy_bound(frame: Frame, attr: Attribute) -> bool:
    """Whether measuring ``attr`` is mostly numpy's work: an intent signal, or values held
    by many accounts (see lift_table)."""
    held = sum(len(cut.accounts) for cut in frame.cuts[attr.name])
    return attr.family == "intent" or held >= _POOLED_ACCOUNTS


def _attribute_rows(
    frame: Frame,
    attr: Attribute,
    settings: AnalysisSettings,
    base: float,
    is_tier1: np.ndarray,
    bands: np.ndarray | None,
) -> tuple[float, list[LiftRow]]:
    """The information value of ``attr`` and a row per value compared with the rest of its
    attribute (q-values and verdicts come after, over every attribute)."""
    n_won, n_lost = frame.n_won, frame.n_closed - frame.n_won
    cuts = frame.cuts[attr.name]
    won = np.array([c.n_won for c in cuts], dtype=float)
    lost = np.array([c.n_closed - c.n_won for c in cuts], dtype=float)
    _, iv = stats.information_value(won, lost)
    strength = stats.estimate_prior_strength(won, won + lost)
    if len(cuts) < 2:
        return iv, []
    # Each value against the rest of its attribute, from sums per value (stats).
    rates, comparisons = stats.rates_and_differences(
        np.concatenate([c.wins for c in cuts]),
        np.concatenate([c.deals for c in cuts]),
        _starts([len(c.wins) for c in cuts]),
    )
    churns = _among_customers(frame.churned, attr, cuts, bands)
    tiers1 = _among_customers(is_tier1, attr, cuts, bands)
    rows = []
    for cut, rate, comparison, churn, tier1 in zip(
        cuts, rates, comparisons, churns, tiers1, strict=True
    ):
        rows.append(
            LiftRow(
                attribute=attr.name,
                value=cut.value,
                family=attr.family,
                kind=attr.kind,
                n_closed=cut.n_closed,
                wins=cut.n_won,
                n_accounts=len(cut.accounts),
                win_rate=rate.rate,
                win_rate_ci=(rate.low, rate.high),
                shrunk_rate=stats.shrunk_rate(cut.n_won, cut.n_closed, base, strength),
                share_won=cut.n_won / n_won,
                share_lost=(cut.n_closed - cut.n_won) / n_lost,
                lift=comparison.lift,
                lift_ci=comparison.lift_ci,
                difference=comparison.difference,
                difference_ci=comparison.difference_ci,
                p_value=comparison.p_value,
                woe=stats.weight_of_evidence(cut.n_won, cut.n_closed - cut.n_won, n_won, n_lost),
                test=comparison.test,
                churn_rate=churn.rate_in if churn else None,
                churn_lift=churn.lift if churn else None,
                churn_p_value=churn.p_value if churn else None,
                churn_customers=churn.n_accounts_in if churn else 0,
                churn_customers_rest=churn.n_accounts_out if churn else 0,
                tier1_rate=tier1.rate_in if tier1 else None,
                tier1_lift=tier1.lift if tier1 else None,
                tier1_p_value=tier1.p_value if tier1 else None,
                thin=_thin(cut.n_closed, comparison, settings),
                n_accounts_rest=comparison.n_accounts_out,
            )
        )
    return iv, rows


def _adjust_and_classify(rows: list[LiftRow], settings: AnalysisSettings) -> None:
    """Benjamini-Hochberg within each family of tests that decide verdicts, then one verdict
    per value. The families are controlled apart, so discoveries in one never loosen the
    threshold of another: win-rate tests of fit attributes, win-rate tests of intent signals,
    and churn tests. The Tier 1 shares, reported only, get their own adjustment too."""
    for family in _families(rows):
        q = _deciding_q([r.p_value for r in family], [r.thin for r in family])
        for row, value in zip(family, q, strict=True):
            row.q_value = float(value)
    churn = _deciding_q(
        [r.churn_p_value if r.churn_p_value is not None else math.nan for r in rows],
        [churn_thin(r, settings) for r in rows],
    )
    for row, value in zip(rows, churn, strict=True):
        row.churn_q_value = None if math.isnan(value) else float(value)
    for row in rows:
        row.verdict, row.why = _verdict(row, settings)
    tier1 = stats.benjamini_hochberg(
        np.array([r.tier1_p_value if r.tier1_p_value is not None else math.nan for r in rows])
    )
    for row, value in zip(rows, tier1, strict=True):
        row.tier1_q_value = None if math.isnan(value) else float(value)


def _deciding_q(p_values: list[float], thin_rows: list[bool]) -> np.ndarray:
    """Benjamini-Hochberg q-values of one family in which a thin cut (never a verdict) counts
    as a test with p = 1: its p-value cannot loosen the threshold of the others, as a whale's
    own segment, tested on one account with many deals, otherwise would. A thin cut's own
    q-value is that of its p-value among the family as measured, for the table."""
    raw = np.array(p_values, dtype=float)
    thin = np.array(thin_rows, dtype=bool)
    measured = stats.benjamini_hochberg(raw)
    if not thin.any():
        return measured
    deciding = stats.benjamini_hochberg(np.where(thin & ~np.isnan(raw), 1.0, raw))
    return np.where(thin, measured, deciding)


def _families(rows: list[LiftRow]) -> list[list[LiftRow]]:
    """The win-rate tests split into their false-discovery families: fit attributes, intent."""
    fit = [r for r in rows if r.family != "intent"]
    intent = [r for r in rows if r.family == "intent"]
    return [f for f in (fit, intent) if f]


def _thin(n_closed: int, comparison: stats.Comparison, settings: AnalysisSettings) -> bool:
    """Too thin to tell: too few closed deals, or too few accounts on either side of the cut
    (many deals of a couple of accounts are a couple of observations, not many)."""
    return (
        n_closed < settings.min_closed_deals
        or comparison.n_accounts_in < settings.min_accounts
        or comparison.n_accounts_out < settings.min_accounts
    )


def churn_thin(row: LiftRow, settings: AnalysisSettings) -> bool:
    """Too thin for a churn verdict: a thin cut, or fewer than ``min_accounts`` customers
    (won accounts whose churn is known) in the cut or in the rest of its attribute, since
    churn is a flag per customer and the customers are its evidence."""
    return (
        row.thin
        or row.churn_customers < settings.min_accounts
        or row.churn_customers_rest < settings.min_accounts
    )


def _thin_why(row: LiftRow, settings: AnalysisSettings) -> str:
    """Why a thin cut says nothing, in accounts first, since accounts are the evidence."""
    floor = settings.min_accounts
    if row.n_accounts < floor:
        return (
            f"only {row.n_accounts} account{'s' if row.n_accounts != 1 else ''} "
            f"({row.n_closed} closed deals; fewer than {floor} accounts)"
        )
    if row.n_accounts_rest < floor:
        return (
            f"only {row.n_accounts_rest} account{'s' if row.n_accounts_rest != 1 else ''} "
            f"outside it (fewer than {floor} accounts to compare with)"
        )
    return (
        f"only {row.n_closed} closed deals from {row.n_accounts} accounts "
        f"(fewer than {settings.min_closed_deals} deals)"
    )


def _verdict(row: LiftRow, settings: AnalysisSettings) -> tuple[Verdict, str]:
    alpha = settings.alpha
    if row.thin:
        return "not enough evidence", _thin_why(row, settings)
    low, high = row.lift_ci
    if row.q_value < alpha and low > 1 and row.lift >= settings.min_lift:
        return "discriminator", f"wins {row.lift:.1f}x as often (q={row.q_value:.2g})"
    if row.q_value < alpha and high < 1 and row.lift <= 1 / settings.min_lift:
        return "disqualifier", f"wins {row.lift:.1f}x as often (q={row.q_value:.2g})"
    if (
        row.churn_q_value is not None
        and not churn_thin(row, settings)
        and row.churn_q_value < alpha
        and row.churn_lift is not None
        and row.churn_lift >= settings.min_lift
    ):
        return "disqualifier", f"churns {row.churn_lift:.1f}x as often (q={row.churn_q_value:.2g})"
    if row.value in (MISSING, NONE_SEEN) or (row.kind == "binary" and row.value == "no"):
        # The complement of a trait describes nobody; it is the reference.
        return "not enough evidence", f"the reference value (q={row.q_value:.2g})"
    if row.share_won >= settings.descriptor_share and row.share_lost >= settings.descriptor_share:
        return "market descriptor", (
            f"{row.share_won:.0%} of wins and {row.share_lost:.0%} of losses"
        )
    return "not enough evidence", f"no significant difference (q={row.q_value:.2g})"


def _thin_data_warnings(frame: Frame, settings: AnalysisSettings) -> list[str]:
    """What cannot be concluded from these data, said plainly."""
    warnings: list[str] = []
    n_lost = frame.n_closed - frame.n_won
    if frame.n_closed == 0:
        return ["no closed new-business deals: nothing can be compared"]
    if frame.n_won == 0:
        warnings.append("no won deals: there is no customer to describe")
    elif n_lost == 0:
        warnings.append(
            "no lost deals: every closed deal was won, so nothing separates wins from losses"
        )
    elif frame.n_closed < settings.min_closed_deals:
        warnings.append(
            f"only {frame.n_closed} closed deals (fewer than {settings.min_closed_deals}): "
            "every cut is too thin to tell; treat the tables as description, not evidence"
        )
    absent: list[str] = []
    for attr in frame.attributes:
        cuts = frame.cuts[attr.name]
        known = [c for c in cuts if c.value not in (MISSING,)]
        if not known:
            absent.append(attr.name)
        elif len(known) == 1 and attr.kind != "binary":
            warnings.append(f"{attr.name}: only one value ({known[0].value}), nothing to compare")
    if absent:
        # Most exports carry no technologies or founding year: one line, not one per attribute.
        warnings.append(f"not in these data (every value missing): {', '.join(absent)}")
    return warnings
