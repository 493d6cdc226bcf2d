"""Candidate ICPs from data: won customers grouped on mixed-type attributes.

Won customers are compared with Gower distance (numbers by their range, categories by
equality, tool sets by Jaccard distance; a value missing on either side leaves that
attribute out of the pair) on head count, industry and stack, grouped by Ward hierarchical
clustering. Two groups are kept only when every group holds a useful share of the customers
and their mean silhouette shows structure; a further group only when it raises the
silhouette clearly (categories alone split customers by industry, so the silhouette creeps
up with every group); otherwise the customers are one group. Each group is then described by
the attribute values it holds more often than the other won customers (Fisher's exact test,
Benjamini-Hochberg across all values tested, and at least 10 points more), and by the win
rate, ACV and churn of its accounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import fisher_exact
from sklearn.metrics import silhouette_score

from icpkit.analysis.stats import (
    benjamini_hochberg,
    clustered_rate,
    median_ci,
    wilson_interval,
)

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

# Ward's criterion assumes Euclidean distances; on Gower distances it is a common heuristic,
# kept because average and complete linkage peeled off a few outliers instead of splitting.
METHOD = "ward"
MAX_CLUSTERS = 6
# Kaufman and Rousseeuw read a mean silhouette below 0.25 as no substantial structure; on the
# demo CRM a single product line's customers split in two at 0.20-0.22 (5 seeds), two planted
# lines at 0.33-0.35, so a split needs 0.30.
MIN_SILHOUETTE = 0.30
MIN_GAIN = 0.10  # each further group must raise the mean silhouette this much
MIN_SHARE = 0.05  # every group holds at least 5% of the won customers ...
MIN_ACCOUNTS = 10  # ... and at least this many of them
OWN_ICP_ACCOUNTS = 30  # a group needs this many accounts before it deserves an ICP of its own
MAX_SAMPLE = 3000  # customers clustered directly; the others join their nearest group
BLOCK = 2000  # rows of a distance block
FDR = 0.05
# A trait describes a group to people: besides being significant, its share in the group
# must exceed the other customers' by this much (a 78% vs 72% difference defines nothing).
MIN_DIFFERENCE = 0.10
MAX_TRAITS = 5  # traits named per group


@dataclass(frozen=True)
class Customers:
    """Accounts to group (the won customers) or to place in a group: one row per account,
    attributes by kind.

    Numbers hold NaN where unknown (log-scale them before: head count and revenue are
    skewed); categories and tool sets hold None where unknown."""

    keys: list[str]
    numbers: dict[str, F64] = field(default_factory=dict)
    categories: dict[str, list[str | None]] = field(default_factory=dict)
    sets: dict[str, list[frozenset[str] | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: I64) -> Customers:
        """The customers at ``rows``, in that order."""
        idx = rows.tolist()
        return Customers(
            [self.keys[i] for i in idx],
            {k: v[rows] for k, v in self.numbers.items()},
            {k: [v[i] for i in idx] for k, v in self.categories.items()},
            {k: [v[i] for i in idx] for k, v in self.sets.items()},
        )


def _pairs(a: Customers, b: Customers, spans: dict[str, float]) -> tuple[F32, F32]:
    """Summed per-attribute distances and the number of attributes known on both sides, for
    every pair of a row of ``a`` and a row of ``b`` (single precision, in place: the matrices
    are the cost of grouping many customers)."""
    shape = (len(a), len(b))
    total = np.zeros(shape, dtype=np.float32)
    weight = np.zeros(shape, dtype=np.float32)
    for name, x in a.numbers.items():
        y = b.numbers[name]
        ok = ~np.isnan(x)[:, None] & ~np.isnan(y)[None, :]
        span = spans.get(name, 0.0)
        if span > 0:
            d = np.subtract.outer(x.astype(np.float32), y.astype(np.float32))
            np.abs(d, out=d)
            d *= np.float32(1.0 / span)
            np.minimum(d, np.float32(1.0), out=d)
            d[~ok] = 0.0
            total += d
        weight += ok
    for name, xs in a.categories.items():
        ys = b.categories[name]
        values = sorted({v for v in [*xs, *ys] if v is not None})
        code = {v: i for i, v in enumerate(values)}
        cx = np.array([-1 if v is None else code[v] for v in xs])
        cy = np.array([-1 if v is None else code[v] for v in ys])
        ok = (cx >= 0)[:, None] & (cy >= 0)[None, :]
        total += ok & (cx[:, None] != cy[None, :])
        weight += ok
    for name, sx in a.sets.items():
        sy = b.sets[name]
        items = sorted({t for s in [*sx, *sy] if s for t in s})
        col = {t: i for i, t in enumerate(items)}
        bx, by = _members(sx, col), _members(sy, col)
        inter = bx @ by.T
        union = bx.sum(1)[:, None] + by.sum(1)[None, :] - inter
        ok = (
            np.array([s is not None for s in sx])[:, None]
            & np.array([s is not None for s in sy])[None, :]
        )
        ok &= union > 0
        np.maximum(union, np.float32(1.0), out=union)
        np.divide(inter, union, out=inter)
        np.subtract(np.float32(1.0), inter, out=inter)
        inter[~ok] = 0.0
        total += inter
        weight += ok
    return total, weight


def _members(sets: list[frozenset[str] | None], col: dict[str, int]) -> F32:
    out = np.zeros((len(sets), len(col)), dtype=np.float32)
    for i, s in enumerate(sets):
        for t in s or ():
            out[i, col[t]] = 1.0
    return out


def gower(a: Customers, b: Customers | None = None, spans: dict[str, float] | None = None) -> F32:
    """Gower distance between every row of ``a`` and every row of ``b`` (``a`` itself when
    None): the mean over the attributes known on both sides, 1 where none is. Numbers are
    scaled by ``spans`` (their range over ``a`` and ``b`` when None).

    >>> c = Customers(["x", "y"], {"employees": np.array([1.0, 3.0])},
    ...               {"industry": ["Software", "Software"]},
    ...               {"tech": [frozenset({"HubSpot"}), frozenset({"HubSpot", "Slack"})]})
    >>> gower(c).round(3).tolist()  # (1 + 0 + 1/2) / 3 attributes
    [[0.0, 0.5], [0.5, 0.0]]
    """
    other = a if b is None else b
    if spans is None:
        spans = spans_of(a if b is None else _stack(a, b))
    total, weight = _pairs(a, other, spans)
    none = weight == 0
    np.maximum(weight, np.float32(1.0), out=weight)
    np.divide(total, weight, out=total)
    total[none] = 1.0
    return total


def _stack(a: Customers, b: Customers) -> Customers:
    return Customers(
        [*a.keys, *b.keys],
        {k: np.concatenate([v, b.numbers[k]]) for k, v in a.numbers.items()},
        {k: [*v, *b.categories[k]] for k, v in a.categories.items()},
        {k: [*v, *b.sets[k]] for k, v in a.sets.items()},
    )


@dataclass(frozen=True)
class Grouping:
    """Which group each customer is in (0-based, largest group first) and why."""

    labels: I64
    k: int
    silhouette: float | None  # of the chosen split; None when one group
    tried: dict[int, float]  # silhouette of every admissible number of groups
    reason: str
    reference: Customers | None = None  # the customers clustered directly (a sample of many)
    reference_labels: I64 | None = None
    spans: dict[str, float] = field(default_factory=dict)  # ranges of the numbers

    def nearest(self, others: Customers) -> I64:
        """The group each of ``others`` is closest to: the least mean Gower distance to the
        group's customers (all in group 0 when there is one group)."""
        out = np.zeros(len(others), dtype=np.int64)
        if self.k == 1 or self.reference is None or self.reference_labels is None:
            return out
        labels = self.reference_labels
        for start in range(0, len(others), BLOCK):
            block = np.arange(start, min(start + BLOCK, len(others)))
            d = gower(others.take(block), self.reference, self.spans)
            mean = np.stack([d[:, labels == g].mean(axis=1) for g in range(self.k)], axis=1)
            out[block] = mean.argmin(axis=1)
        return out


def spans_of(customers: Customers) -> dict[str, float]:
    """The range of each number over ``customers``: the scale of its Gower distance."""
    out = {}
    for name, x in customers.numbers.items():
        known = x[~np.isnan(x)]
        out[name] = float(known.max() - known.min()) if known.size else 0.0
    return out


def group(customers: Customers, seed: int = 0) -> Grouping:
    """Group the customers; one group when no split holds every group at MIN_SHARE and
    MIN_ACCOUNTS with a mean silhouette of at least MIN_SILHOUETTE (see the module)."""
    n = len(customers)
    one = np.zeros(n, dtype=np.int64)
    if n < 2 * MIN_ACCOUNTS:
        return Grouping(one, 1, None, {}, f"{n} won customers are too few to split")
    spans = spans_of(customers)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, MAX_SAMPLE, replace=False)) if n > MAX_SAMPLE else np.arange(n)
    part = customers.take(sample)
    dist = gower(part, None, spans).astype(np.float64)
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2
    tree = linkage(squareform(dist, checks=False), method=METHOD)
    smallest = max(MIN_ACCOUNTS, math.ceil(MIN_SHARE * len(sample)))
    tried: dict[int, float] = {}
    best: tuple[float, I64] | None = None
    for k in range(2, MAX_CLUSTERS + 1):
        labels = fcluster(tree, k, criterion="maxclust").astype(np.int64) - 1
        sizes = np.bincount(labels)
        if len(sizes) != k or sizes.min() < smallest:
            continue
        score = float(silhouette_score(dist, labels, metric="precomputed"))
        tried[k] = score
        if best is None:
            if score < MIN_SILHOUETTE:
                break
            best = (score, labels)
        elif score >= best[0] + MIN_GAIN:
            best = (score, labels)
        else:
            break
    if best is None:
        if not tried:
            return Grouping(one, 1, None, tried, "no split leaves every group a useful size")
        k, score = next(iter(tried.items()))
        return Grouping(
            one, 1, None, tried, f"the split in {k} groups has a mean silhouette of "
            f"{score:.2f}, below the {MIN_SILHOUETTE:.2f} that shows real structure"
        )  # fmt: skip
    score, labels = best
    k = int(labels.max()) + 1
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    reason = f"mean silhouette {score:.2f} (a split needs {MIN_SILHOUETTE:.2f}"
    reason += f", each further group {MIN_GAIN:.2f} more)"
    found = Grouping(one, k, score, tried, reason, part, rank[labels], spans)
    full = np.empty(n, dtype=np.int64)
    full[sample] = rank[labels]
    rest = np.setdiff1d(np.arange(n), sample)
    full[rest] = found.nearest(customers.take(rest))
    return Grouping(full, k, score, tried, reason, part, rank[labels], spans)


# The store's account attributes the groups are built on, and the bands traits are named in.
EMPLOYEE_BANDS = ((1, 10), (11, 50), (51, 200), (201, 1000), (1001, 5000), (5001, 10**9))


def _band(employees: float) -> str | None:
    if math.isnan(employees):
        return None
    e = round(10**employees)
    for lo, hi in EMPLOYEE_BANDS:
        if lo <= e <= hi:
            return f"{lo:,}+" if hi == 10**9 else f"{lo:,}-{hi:,}"
    return None


@dataclass(frozen=True)
class Trait:
    """An attribute value a group holds more often than the other won customers."""

    attribute: str
    value: str
    share: float  # in the group
    share_low: float
    share_high: float
    rest_share: float  # among the other won customers
    p_value: float
    q_value: float

    def sentence(self) -> str:
        """The trait in words."""
        what = (
            f"uses {self.value}" if self.attribute == "tech" else f"{self.attribute} {self.value}"
        )
        return (
            f"{what}: {self.share:.0%} of the group ({self.share_low:.0%}-{self.share_high:.0%}) "
            f"vs {self.rest_share:.0%} of the other customers ({_q(self.q_value)})"
        )


def _q(q: float) -> str:
    return "q < 0.0001" if q < 1e-4 else f"q = {q:.2g}"


@dataclass(frozen=True)
class Rate:
    """A rate or value with its 95% interval; None where it cannot be computed."""

    value: float | None
    low: float | None
    high: float | None
    n: int  # what it is computed from (deals, accounts)


@dataclass
class Cluster:
    """One group of won customers and what it looks like."""

    number: int
    accounts: int
    traits: list[Trait]
    win_rate: Rate  # of the closed New Business deals of every account nearest to it
    lookalikes: int  # accounts nearest to it, customers or not, that the win rate counts
    median_acv: Rate  # of its accounts' won New Business deals
    churn_rate: Rate  # of its accounts
    own_icp: bool
    own_icp_reason: str
    keys: list[str] = field(repr=False)

    def sentences(self) -> list[str]:
        """The group in plain sentences."""
        out = [f"Group {self.number}: {self.accounts:,} won customers."]
        if self.traits:
            out.append("It stands out by " + "; ".join(t.sentence() for t in self.traits) + ".")
        else:
            out.append("No attribute value is significantly more common here than elsewhere.")
        out.append(_rate_sentence(f"Win rate of the closed new-business deals of the "
                                  f"{self.lookalikes:,} accounts that look like it, won or not",
                                  self.win_rate, "{:.0%}", "deals"))  # fmt: skip
        out.append(_rate_sentence("Median ACV of its won new-business deals", self.median_acv,
                                  "{:,.0f}", "deals"))  # fmt: skip
        out.append(_rate_sentence("Churn", self.churn_rate, "{:.0%}", "customers"))
        verdict = "Deserves an ICP of its own" if self.own_icp else "No ICP of its own"
        out.append(f"{verdict}: {self.own_icp_reason}.")
        return out


def _rate_sentence(label: str, r: Rate, spec: str, unit: str) -> str:
    if r.value is None:
        return f"{label}: not computable (no {unit})."
    if r.low is None or r.high is None:
        return f"{label}: {spec.format(r.value)} ({r.n:,} {unit}, too few for an interval)."
    span = f"{spec.format(r.low)}-{spec.format(r.high)}"
    return f"{label}: {spec.format(r.value)} (95% interval {span}, {r.n:,} {unit})."


@dataclass
class ClusterResult:
    """The groups of won customers, largest first, and how their number was chosen."""

    customers: int
    grouping: Grouping
    clusters: list[Cluster]
    attributes: list[str]

    def sentences(self) -> list[str]:
        """The whole answer in plain sentences."""
        if self.customers == 0:
            return ["No won customers yet: nothing to group."]
        head = (
            f"{self.customers:,} won customers grouped on {', '.join(self.attributes)}: "
            + ("one group. " if self.grouping.k == 1 else f"{self.grouping.k} groups. ")
            + self.grouping.reason[0].upper()
            + self.grouping.reason[1:]
            + "."
        )
        return [head, *(line for c in self.clusters for line in c.sentences())]


@dataclass(frozen=True)
class Outcomes:
    """Per account (aligned with Customers.keys): closed and won New Business deals, won
    ACVs, and whether the account churned. An account with a won deal is a customer."""

    deals: I64
    wins: I64
    acvs: list[list[float]]
    churned: NDArray[np.bool_]


def accounts_from_store(con: duckdb.DuckDBPyConnection) -> tuple[Customers, Outcomes]:
    """Every account of the store with a closed New Business deal: its head count (log10),
    industry and stack, and its deal outcomes (those with a won deal are the customers)."""
    rows = con.execute(
        """
        WITH nb AS (
            SELECT account_key, outcome, amount FROM deals
            WHERE account_key IS NOT NULL AND NOT is_expansion AND outcome IN ('won', 'lost')
        ), per AS (
            SELECT account_key, count(*) AS deals,
                   count(*) FILTER (WHERE outcome = 'won') AS wins,
                   list(amount) FILTER (WHERE outcome = 'won' AND amount IS NOT NULL) AS acvs
            FROM nb GROUP BY account_key
        )
        SELECT a.account_key, a.employees, a.industry, a.technologies, coalesce(a.churned, false),
               per.deals, per.wins, per.acvs
        FROM per JOIN accounts a USING (account_key)
        ORDER BY a.account_key
        """
    ).fetchall()
    emp = np.array(
        [math.log10(r[1]) if r[1] is not None and r[1] > 0 else math.nan for r in rows], float
    )
    customers = Customers(
        [r[0] for r in rows],
        {"employees": emp},
        {"industry": [r[2] or None for r in rows]},
        {"tech": [frozenset(r[3]) if r[3] else None for r in rows]},
    )
    outcomes = Outcomes(
        np.array([r[5] for r in rows], dtype=np.int64),
        np.array([r[6] for r in rows], dtype=np.int64),
        [[float(a) for a in (r[7] or []) if a is not None and math.isfinite(a)] for r in rows],
        np.array([bool(r[4]) for r in rows], dtype=bool),
    )
    return customers, outcomes


def _values(customers: Customers) -> dict[tuple[str, str], NDArray[np.bool_]]:
    """Every attribute value a trait may be named by, with which customers hold it."""
    out: dict[tuple[str, str], NDArray[np.bool_]] = {}
    bands = [_band(float(e)) for e in customers.numbers.get("employees", np.array([]))]
    for b in sorted({b for b in bands if b is not None}):
        out[("employees", b)] = np.array([x == b for x in bands])
    for name, values in customers.categories.items():
        for v in sorted({v for v in values if v is not None}):
            out[(name, v)] = np.array([x == v for x in values])
    for name, sets in customers.sets.items():
        for t in sorted({t for s in sets if s for t in s}):
            out[(name, t)] = np.array([s is not None and t in s for s in sets])
    return out


def _traits(customers: Customers, labels: I64, k: int) -> list[list[Trait]]:
    """Per group, the values it holds significantly more often than the other customers."""
    if k < 2:
        return [[]]
    tests: list[tuple[int, str, str, int, int, int, int, float]] = []
    for (attr, value), has in _values(customers).items():
        for g in range(k):
            inside = labels == g
            a, n1 = int((has & inside).sum()), int(inside.sum())
            b, n0 = int((has & ~inside).sum()), int((~inside).sum())
            if a == 0 or a / n1 <= b / max(n0, 1):
                continue
            _, p = fisher_exact([[a, n1 - a], [b, n0 - b]], alternative="greater")
            tests.append((g, attr, value, a, n1, b, n0, float(p)))
    if not tests:
        return [[] for _ in range(k)]
    q = benjamini_hochberg(np.array([t[-1] for t in tests]))
    out: list[list[Trait]] = [[] for _ in range(k)]
    for (g, attr, value, a, n1, b, n0, p), qv in zip(tests, q.tolist(), strict=True):
        if qv <= FDR and a / n1 - b / n0 >= MIN_DIFFERENCE:
            lo, hi = wilson_interval(a, n1)
            out[g].append(Trait(attr, value, a / n1, lo, hi, b / n0, p, float(qv)))
    for traits in out:
        traits.sort(key=lambda t: (t.q_value, -(t.share - t.rest_share)))
        del traits[MAX_TRAITS:]
    return out


def _win_rate(o: Outcomes, rows: NDArray[np.bool_]) -> Rate:
    """The win rate of the accounts' closed deals, its interval clustered by account."""
    deals, wins = o.deals[rows], o.wins[rows]
    total = int(deals.sum())
    if total == 0:
        return Rate(None, None, None, 0)
    if len(deals) < 2:
        return Rate(float(wins.sum()) / total, None, None, total)
    est = clustered_rate(wins.astype(float), deals.astype(float))
    if not all(math.isfinite(v) for v in (est.rate, est.low, est.high)):
        return Rate(float(wins.sum()) / total, None, None, total)
    return Rate(est.rate, est.low, est.high, total)


def _median_acv(o: Outcomes, rows: NDArray[np.bool_]) -> Rate:
    """The median ACV of the customers' won deals, with its order-statistic interval."""
    values = np.array([a for i in np.flatnonzero(rows).tolist() for a in o.acvs[i]], float)
    if values.size == 0:
        return Rate(None, None, None, 0)
    median, low, high = median_ci(values)
    if math.isnan(low) or math.isnan(high):
        return Rate(median, None, None, int(values.size))
    return Rate(median, low, high, int(values.size))


def _churn(o: Outcomes, rows: NDArray[np.bool_]) -> Rate:
    n = int(rows.sum())
    if n == 0:
        return Rate(None, None, None, 0)
    churned = int(o.churned[rows].sum())
    lo, hi = wilson_interval(churned, n)
    return Rate(churned / n, lo, hi, n)


def cluster_customers(accounts: Customers, outcomes: Outcomes, seed: int = 0) -> ClusterResult:
    """Group the won customers among ``accounts`` and describe each group: its traits against
    the other customers, the win rate of every account nearest to it (won or not), and the
    median ACV and churn of its customers (see the module's docstring)."""
    won = outcomes.wins > 0
    customers = accounts.take(np.flatnonzero(won))
    grouping = group(customers, seed)
    k = grouping.k
    near = np.zeros(len(accounts), dtype=np.int64)
    near[won] = grouping.labels
    near[~won] = grouping.nearest(accounts.take(np.flatnonzero(~won)))
    traits = _traits(customers, grouping.labels, k)
    clusters = []
    for g in range(k if len(customers) else 0):
        members = won & (near == g)
        n = int(members.sum())
        t = traits[g]
        if k == 1:
            own, why = False, "the won customers form one group, which the ICP already covers"
        elif n < OWN_ICP_ACCOUNTS:
            own, why = False, f"{n} accounts, fewer than the {OWN_ICP_ACCOUNTS} an ICP needs"
        elif not t:
            own, why = False, "no trait sets it apart from the other customers"
        else:
            own = True
            why = f"{n:,} accounts and {len(t)} trait(s) that set it apart (q <= {FDR})"
        alike = near == g
        clusters.append(
            Cluster(g + 1, n, t, _win_rate(outcomes, alike), int(alike.sum()),
                    _median_acv(outcomes, members), _churn(outcomes, members), own, why,
                    [key for key, r in zip(accounts.keys, members.tolist(), strict=True) if r])
        )  # fmt: skip
    attributes = [*accounts.numbers, *accounts.categories, *accounts.sets]
    return ClusterResult(len(customers), grouping, clusters, attributes)
