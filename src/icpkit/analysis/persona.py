"""The buyer persona from contacts: which roles are present in won deals more than in lost ones.

Each closed new-business deal is judged by the contacts its account had when it closed (a
contact created after the close, as onboarding adds them, says nothing about the sale). A
role is a seniority in a department, both read from job titles at ingest; seniorities and
departments alone are tested too. A label's deals are compared with the other deals by
account (``stats.rate_difference``: its small-sample rules and account clustering), and the
false discovery rate is controlled over every label tested at once. The persona is the roles
that win more beyond chance; the buying committee (contacts known by the close) is reported
with its effect on win rate and sales cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from icpkit.analysis.stats import (
    Comparison,
    benjamini_hochberg,
    clustered_rate,
    median_ci,
    rate_difference,
)
from icpkit.config import AnalysisSettings
from icpkit.ingest.normalize.titles import SENIORITIES

ROLE, SENIORITY, DEPARTMENT = "role", "seniority", "department"
KINDS = (ROLE, SENIORITY, DEPARTMENT)
COMMITTEE_BANDS = ("0", "1", "2", "3", "4", "5+")


@dataclass(frozen=True)
class DealContacts:
    """Closed new-business deals, and per deal the contacts its account had by the close.

    ``deal`` indexes the deal of each known contact; ``seniority`` and ``department`` are
    its labels (None when the title tells nothing)."""

    account: np.ndarray  # object, per deal
    won: np.ndarray  # bool, per deal
    cycle_days: np.ndarray  # float, NaN unknown, per deal
    deal: np.ndarray  # int64, per known contact
    seniority: np.ndarray  # object, per known contact
    department: np.ndarray  # object, per known contact
    contacts: int = 0  # contacts in the workspace
    after_close: int = 0  # contacts of these accounts created after a deal closed, not counted

    def __len__(self) -> int:
        return int(self.won.shape[0])


def load_deal_contacts(
    con: duckdb.DuckDBPyConnection, where: str = "TRUE", *, expansion: bool = False
) -> DealContacts:
    """Closed new-business deals of the store (those ``where``, SQL over ``deals``, selects;
    expansion deals instead with ``expansion``) and the contacts known at each one's close
    (an undated contact counts as known: nothing says it came later)."""
    motion = "is_expansion" if expansion else "NOT is_expansion"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE persona_deals AS
            SELECT row_number() OVER (ORDER BY deal_key) - 1 AS i, account_key,
                   outcome = 'won' AS won, cycle_days,
                   coalesce(closed_at, created_at) AS closed_at
            FROM deals
            WHERE outcome IN ('won', 'lost') AND {motion} AND account_key IS NOT NULL
              AND ({where})"""
    )
    deals = con.execute(
        "SELECT account_key, won, cycle_days FROM persona_deals ORDER BY i"
    ).fetchnumpy()
    known = con.execute(
        """SELECT d.i, c.seniority, c.department,
                  c.created_at IS NOT NULL AND d.closed_at IS NOT NULL
                    AND c.created_at > d.closed_at AS later
           FROM persona_deals d JOIN contacts c ON c.account_key = d.account_key
           ORDER BY d.i, c.contact_key"""
    ).fetchnumpy()
    total = con.execute("SELECT count(*) FROM contacts").fetchone()
    con.execute("DROP TABLE persona_deals")
    later = np.asarray(known["later"], dtype=bool)
    cycle = np.asarray(deals["cycle_days"], dtype=float)
    return DealContacts(
        account=np.asarray(deals["account_key"], dtype=object),
        won=np.asarray(deals["won"], dtype=bool),
        cycle_days=np.where(np.isfinite(cycle), cycle, math.nan),
        deal=np.asarray(known["i"], dtype=np.int64)[~later],
        seniority=_texts(known["seniority"])[~later],
        department=_texts(known["department"])[~later],
        contacts=int(total[0]) if total else 0,
        after_close=int(later.sum()),
    )


def _texts(values: Any) -> np.ndarray:
    """Object array of text or None (masked and NaN cells as None)."""
    cells = np.ma.getdata(values).tolist()
    masked = np.ma.getmaskarray(values).tolist()
    pairs = zip(cells, masked, strict=True)
    kept = [v if isinstance(v, str) and v and not m else None for v, m in pairs]
    return np.array(kept, dtype=object)


@dataclass(frozen=True)
class LabelLift:
    """A role, seniority or department: deals with such a contact against deals without."""

    kind: str
    seniority: str | None
    department: str | None
    deals_in: int
    wins_in: int
    accounts_in: int
    comparison: Comparison | None  # None: too few deals or accounts to test
    q_value: float = math.nan
    passes: bool = False

    @property
    def label(self) -> str:
        """'VP in Sales', 'VP' or 'Sales'."""
        if self.kind == ROLE:
            return f"{self.seniority} in {self.department}"
        return str(self.seniority if self.kind == SENIORITY else self.department)


@dataclass(frozen=True)
class CommitteeBand:
    """Deals whose account had ``band`` contacts by the close."""

    band: str
    deals: int
    wins: int
    win_rate: float
    win_rate_ci: tuple[float, float]
    median_cycle_won: float


@dataclass(frozen=True)
class CommitteeEffect:
    """Larger committees (``larger_from`` contacts or more) against smaller ones."""

    larger_from: int
    comparison: Comparison | None
    median_cycle_larger: float
    median_cycle_smaller: float


@dataclass(frozen=True)
class PersonaResult:
    """Everything the contacts say about who buys."""

    deals: int
    accounts: int
    contacts: int
    deals_with_contacts: int
    after_close: int
    base_rate: float
    labels: list[LabelLift] = field(default_factory=list)
    committee: list[CommitteeBand] = field(default_factory=list)
    committee_effect: CommitteeEffect | None = None
    alpha: float = 0.05

    @property
    def roles(self) -> list[LabelLift]:
        """The persona: roles that win more beyond chance, strongest lift first."""
        found = [x for x in self.labels if x.kind == ROLE and x.passes]
        return sorted(found, key=lambda x: -(x.comparison.lift if x.comparison else 0.0))

    def sentences(self) -> list[str]:
        """The finding in plain words, the absence of one included."""
        if self.contacts == 0:
            return ["No persona: the workspace has no contacts (ingest a contacts export)."]
        if self.deals_with_contacts == 0:
            return ["No persona: no closed new-business deal has a contact known before it closed."]
        roles = self.roles
        if not roles:
            tested = sum(1 for x in self.labels if x.kind == ROLE and x.comparison is not None)
            if tested == 0:
                return [
                    "No persona: no role is held by enough accounts, on the won and on the "
                    "lost side, to be tested."
                ]
            which = (
                "the one role tested is not"
                if tested == 1
                else f"none of the {tested} roles tested is"
            )
            return [
                f"No persona: {which} present in won deals more than in lost ones beyond "
                f"chance (false discovery rate {self.alpha:g})."
            ]
        order = ", then ".join(x.label for x in roles)
        return [f"Contact first: {order}."]


def _cells(
    account: np.ndarray, won: np.ndarray, inside: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (account, inside) cell: wins, deals and whether the cell is inside.

    An account whose deals fall on both sides (a role arrived between two deals) is two
    cells, one a side."""
    keys = np.char.add(account.astype(str), np.where(inside, "\x001", "\x000"))
    uniq, idx = np.unique(keys, return_inverse=True)
    wins = np.bincount(idx, weights=won.astype(float), minlength=len(uniq))
    deals = np.bincount(idx, minlength=len(uniq)).astype(float)
    side = np.zeros(len(uniq), dtype=bool)
    side[idx[inside]] = True
    return wins, deals, side


def _label_sets(dc: DealContacts) -> dict[tuple[str, str | None, str | None], np.ndarray]:
    """Per label, the deals that had a contact with it by the close."""
    out: dict[tuple[str, str | None, str | None], set[int]] = {}
    for d, s, dep in zip(dc.deal.tolist(), dc.seniority.tolist(), dc.department.tolist(),
                         strict=True):  # fmt: skip
        if s is not None:
            out.setdefault((SENIORITY, s, None), set()).add(d)
        if dep is not None:
            out.setdefault((DEPARTMENT, None, dep), set()).add(d)
        if s is not None and dep is not None:
            out.setdefault((ROLE, s, dep), set()).add(d)
    n = len(dc)
    masks = {}
    for key, deals in out.items():
        mask = np.zeros(n, dtype=bool)
        mask[list(deals)] = True
        masks[key] = mask
    return masks


def _order(key: tuple[str, str | None, str | None]) -> tuple[int, int, str, str]:
    kind, s, dep = key
    rank = SENIORITIES.index(s) if s in SENIORITIES else len(SENIORITIES)
    return KINDS.index(kind), rank, s or "", dep or ""


def analyze_persona(dc: DealContacts, settings: AnalysisSettings) -> PersonaResult:
    """Test every role, seniority and department for presence in won vs lost deals, and
    measure the buying committee. Pure: arrays in, result out."""
    n = len(dc)
    accounts = len(set(dc.account.tolist()))
    base = float(dc.won.mean()) if n else math.nan
    known = np.zeros(n, dtype=np.int64)
    if n:
        known = np.bincount(dc.deal, minlength=n)
    common: dict[str, Any] = {
        "deals": n,
        "accounts": accounts,
        "contacts": dc.contacts,
        "deals_with_contacts": int((known > 0).sum()),
        "after_close": dc.after_close,
        "base_rate": base,
        "alpha": settings.alpha,
    }
    if n == 0 or not (known > 0).any():
        return PersonaResult(**common)

    labels: list[LabelLift] = []
    for key, inside in sorted(_label_sets(dc).items(), key=lambda kv: _order(kv[0])):
        kind, s, dep = key
        deals_in = int(inside.sum())
        deals_out = n - deals_in
        acc_in = len(set(dc.account[inside].tolist()))
        acc_out = len(set(dc.account[~inside].tolist()))
        comparison = None
        if (
            min(deals_in, deals_out) >= settings.min_closed_deals
            and min(acc_in, acc_out) >= settings.min_accounts
        ):
            comparison = rate_difference(*_cells(dc.account, dc.won, inside))
        wins_in = int(dc.won[inside].sum())
        labels.append(LabelLift(kind, s, dep, deals_in, wins_in, acc_in, comparison))

    tested = [i for i, x in enumerate(labels) if x.comparison is not None]
    if tested:
        p = np.array([labels[i].comparison.p_value for i in tested])  # type: ignore[union-attr]
        q = benjamini_hochberg(p)
        for i, qi in zip(tested, q.tolist(), strict=True):
            c = labels[i].comparison
            assert c is not None
            passes = bool(qi <= settings.alpha and c.difference > 0)
            labels[i] = LabelLift(**{**labels[i].__dict__, "q_value": qi, "passes": passes})

    return PersonaResult(
        **common,
        labels=labels,
        committee=_committee_bands(dc, known),
        committee_effect=_committee_effect(dc, known, settings),
    )


def _committee_bands(dc: DealContacts, known: np.ndarray) -> list[CommitteeBand]:
    band = np.minimum(known, len(COMMITTEE_BANDS) - 1)
    out = []
    for b, name in enumerate(COMMITTEE_BANDS):
        rows = band == b
        if not rows.any():
            continue
        wins, deals, _ = _cells(dc.account[rows], dc.won[rows], np.zeros(int(rows.sum()), bool))
        rate = clustered_rate(wins, deals)
        cycle = dc.cycle_days[rows & dc.won]
        out.append(
            CommitteeBand(
                name,
                int(rows.sum()),
                int(dc.won[rows].sum()),
                rate.rate,
                (rate.low, rate.high),
                median_ci(cycle)[0] if cycle.size else math.nan,
            )
        )
    return out


def _committee_effect(
    dc: DealContacts, known: np.ndarray, settings: AnalysisSettings
) -> CommitteeEffect:
    """Committees at least as large as the median deal's (at least 1) against the rest."""
    larger_from = max(1, int(np.median(known)))
    larger = known >= larger_from
    comparison = None
    if min(int(larger.sum()), int((~larger).sum())) >= settings.min_closed_deals:
        comparison = rate_difference(*_cells(dc.account, dc.won, larger))

    def median_cycle(rows: np.ndarray) -> float:
        cycle = dc.cycle_days[rows & dc.won]
        return median_ci(cycle)[0] if cycle.size else math.nan

    return CommitteeEffect(larger_from, comparison, median_cycle(larger), median_cycle(~larger))


# ---- contacts of one account, ranked by persona fit -----------------------------------------


@dataclass(frozen=True)
class RankedContact:
    """A contact of an account and why it ranks where it does."""

    rank: int
    name: str
    title: str
    seniority: str | None
    department: str | None
    email: str | None
    persona_role: str | None  # the persona role it fills, None when none
    reason: str


def rank_contacts(
    contacts: Iterable[dict[str, Any]], roles: Sequence[tuple[str, str]]
) -> list[RankedContact]:
    """An account's contacts, persona roles first in the persona's order (its strongest role
    first), then the others by seniority. ``roles`` are (seniority, department) pairs.

    >>> people = [{"full_name": "Ann", "job_title": "Engineer", "seniority":
    ...     "Individual contributor", "department": "Engineering"},
    ...     {"full_name": "Bo", "job_title": "VP Sales", "seniority": "VP", "department": "Sales"}]
    >>> [c.name for c in rank_contacts(people, [("VP", "Sales")])]
    ['Bo', 'Ann']
    """
    wanted = [(s.lower(), d.lower()) for s, d in roles]

    def key(c: dict[str, Any]) -> tuple[int, int, str]:
        s, d = (c.get("seniority") or ""), (c.get("department") or "")
        role = (s.lower(), d.lower())
        first = wanted.index(role) if role in wanted else len(wanted)
        rank = SENIORITIES.index(s) if s in SENIORITIES else len(SENIORITIES)
        return first, rank, str(c.get("full_name") or "")

    out = []
    for i, c in enumerate(sorted(contacts, key=key), start=1):
        s, d = c.get("seniority"), c.get("department")
        role = (str(s).lower(), str(d).lower()) if s and d else None
        fills = role is not None and role in wanted
        label = f"{s} in {d}" if s and d else str(s or d or "unknown role")
        reason = (
            f"persona role {wanted.index(role) + 1} of {len(wanted)}: {label}"
            if fills and role is not None
            else f"not a persona role ({label})"
        )
        out.append(
            RankedContact(
                i,
                str(c.get("full_name") or c.get("email") or "(no name)"),
                str(c.get("job_title") or ""),
                s,
                d,
                c.get("email"),
                label if fills else None,
                reason,
            )
        )
    return out


def account_contacts(con: duckdb.DuckDBPyConnection, account: str) -> list[dict[str, Any]] | None:
    """The contacts of the account keyed ``account`` (or, failing that, named so); None when
    no account is known by that key or name."""
    keys = [
        r[0]
        for r in con.execute(
            """SELECT account_key FROM accounts WHERE account_key = ?
               UNION SELECT account_key FROM contacts WHERE account_key = ?""",
            [account, account],
        ).fetchall()
    ]
    if not keys:
        keys = [
            r[0]
            for r in con.execute(
                "SELECT account_key FROM accounts WHERE lower(name) = lower(?)", [account]
            ).fetchall()
        ]
    if not keys:
        return None
    rows = con.execute(
        """SELECT full_name, job_title, seniority, department, email, created_at
           FROM contacts WHERE list_contains(?, account_key) ORDER BY contact_key""",
        [keys],
    ).fetchall()
    names = ("full_name", "job_title", "seniority", "department", "email", "created_at")
    return [dict(zip(names, r, strict=True)) for r in rows]
