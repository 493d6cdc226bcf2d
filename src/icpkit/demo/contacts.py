"""Contacts of the demo CRM: people with messy job titles, and the planted buyer persona.

Each account with deals gets a contact from a title family with the family's prevalence,
independently of everything else. Two families are the planted persona: a deal whose account
already had a VP of Sales, or a revenue operations manager, when the deal was created wins
more often. The other families are common decoys with no effect, and one of them (IT
administrators) is also added right after a first win, as onboarding brings them in, so an
analysis that counts contacts created after the close sees a false persona.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]


@dataclass(frozen=True)
class Family:
    """Titles that read as one (seniority, department) role, how many accounts have one, and
    the log-odds a contact of it, known when a deal is created, adds to the deal's win."""

    name: str
    seniority: str
    department: str
    titles: tuple[str, ...]
    prevalence: float
    log_odds: float = 0.0


FAMILIES: tuple[Family, ...] = (
    Family(
        "sales_vp",
        "VP",
        "Sales",
        (
            "VP of Sales",
            "VP Sales",
            "Vice President, Sales",
            "SVP Sales",
            "VP, Sales",
            "vp of sales",
            "Vice President of Sales (North America)",
        ),
        0.30,
        1.0,
    ),
    Family(
        "revops_manager",
        "Manager",
        "Operations",
        (
            "RevOps Manager",
            "Sr. Revenue Operations Manager",
            "Revenue Operations Manager",
            "Sales Operations Manager",
            "Manager, Revenue Operations",
            "Sr. RevOps Mgr",
        ),
        0.25,
        0.9,
    ),
    Family(
        "engineer",
        "Individual contributor",
        "Engineering",
        (
            "Software Engineer II",
            "Sr. Software Engineer",
            "Software Engineer",
            "Backend Developer",
            "Staff Engineer",
        ),
        0.55,
    ),
    Family(
        "account_executive",
        "Individual contributor",
        "Sales",
        (
            "Account Executive",
            "Senior Account Executive",
            "Sales Development Representative",
            "SDR",
            "Business Development Rep",
        ),
        0.50,
    ),
    Family(
        "marketing_manager",
        "Manager",
        "Marketing",
        (
            "Marketing Manager",
            "Sr. Marketing Manager",
            "Demand Generation Manager",
            "Growth Marketing Manager",
        ),
        0.45,
    ),
    Family(
        "sales_manager",
        "Manager",
        "Sales",
        ("Sales Manager", "Regional Sales Manager", "Inside Sales Manager"),
        0.30,
    ),
    Family(
        "ceo",
        "C-level",
        "Executive",
        ("CEO", "Chief Executive Officer", "ceo", "CEO & President"),
        0.35,
    ),
    Family(
        "finance_director",
        "Director",
        "Finance",
        ("Director of Finance", "Finance Director", "Director, Finance & Accounting"),
        0.20,
    ),
    Family(
        "it_admin",
        "Individual contributor",
        "IT",
        ("Systems Administrator", "IT Systems Administrator", "Sysadmin"),
        0.12,
    ),
)
PLANTED = tuple(f for f in FAMILIES if f.log_odds)
ONBOARDING = "it_admin"
ONBOARDING_SHARE = 0.7  # of first wins bring an IT administrator in after the close
ONBOARDING_DAYS = (1, 60)  # ... this many days after the close

# When a contact enters the CRM, relative to the account's first deal: most before it, some
# while the account is worked (these count only for deals created after them).
EARLY_SHARE = 0.85
EARLY_DAYS = 400
LATE_DAYS = 500

FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vik",
    "Wen", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones",
    "Khan", "Lopez", "Müller", "Nguyen", "O'Brien", "Patel", "Quinn", "Rossi", "Smith",
    "Tanaka", "Usman", "Volkov", "Walsh", "Young", "Zhang",
)  # fmt: skip


@dataclass(frozen=True)
class People:
    """One chunk's contacts: company index, family, title variant, created day and minute,
    first and last name (indices into FIRST_NAMES / LAST_NAMES)."""

    comp: I64
    family: I64
    title: I64
    day: I64
    minute: I64
    first: I64
    last: I64

    def __len__(self) -> int:
        return len(self.comp)


def _people(
    rng: np.random.Generator, comp: I64, family: I64, day: I64
) -> tuple[I64, I64, I64, I64, I64, I64, I64]:
    n = len(comp)
    sizes = np.array([len(f.titles) for f in FAMILIES])
    title = (rng.random(n) * sizes[family]).astype(np.int64)
    minute = rng.integers(8 * 60, 19 * 60, n)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    return comp, family, title, day, minute, first, last


def draw(rng: np.random.Generator, n_c: int, comp: I64, cday: I64, last_day: int) -> People:
    """The contacts of the ``n_c`` companies that have deals (``comp`` and ``cday``: each
    deal's company and created day), dated around each company's first deal."""
    first_day = np.full(n_c, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_day, comp, cday)
    worked = np.flatnonzero(first_day < np.iinfo(np.int64).max)
    prevalence = np.array([f.prevalence for f in FAMILIES])
    has = rng.random((len(worked), len(FAMILIES))) < prevalence
    rows, fam = np.nonzero(has)
    who = worked[rows]
    n = len(who)
    early = rng.random(n) < EARLY_SHARE
    before = first_day[who] - rng.integers(0, EARLY_DAYS + 1, n)
    after = first_day[who] + rng.integers(1, LATE_DAYS + 1, n)
    day = np.minimum(np.where(early, before, after), last_day)
    return People(*_people(rng, who, fam.astype(np.int64), day))


def persona_log_odds(people: People, comp: I64, cday: I64) -> F64:
    """Per deal, the planted log-odds of the persona roles its account had by the deal's
    created day (each role counts once, however many such contacts)."""
    effect = np.array([f.log_odds for f in FAMILIES])
    out = np.zeros(len(comp))
    for j in np.flatnonzero(effect):
        mine = people.family == j
        known = np.full(int(comp.max(initial=0)) + 1, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(known, people.comp[mine], people.day[mine])
        out += effect[j] * (known[comp] <= cday)
    return out


def onboarding(
    rng: np.random.Generator, people: People, since: I64, customer: Bool, last_day: int
) -> People:
    """``people`` plus the IT administrators onboarding brings in after a first win."""
    won = np.flatnonzero(customer)
    won = won[rng.random(len(won)) < ONBOARDING_SHARE]
    day = since[won] + rng.integers(ONBOARDING_DAYS[0], ONBOARDING_DAYS[1] + 1, len(won))
    keep = day <= last_day
    won, day = won[keep], day[keep]
    family = np.full(len(won), [f.name for f in FAMILIES].index(ONBOARDING), dtype=np.int64)
    extra = _people(rng, won, family, day)
    return People(
        *(np.concatenate([old, new]) for old, new in zip(_fields(people), extra, strict=True))
    )


def _fields(p: People) -> tuple[I64, I64, I64, I64, I64, I64, I64]:
    return p.comp, p.family, p.title, p.day, p.minute, p.first, p.last


def truth() -> dict[str, Any]:
    """The planted persona as planted_truth.json records it."""

    def role(f: Family) -> dict[str, Any]:
        return {
            "family": f.name,
            "seniority": f.seniority,
            "department": f.department,
            "titles": list(f.titles),
            "prevalence": f.prevalence,
            "log_odds": f.log_odds,
            "direction": "positive" if f.log_odds > 0 else "none",
        }

    return {
        "file": "contacts.csv",
        "effect": "a New Business deal wins with the log_odds of each planted role added when "
        "its account had a contact of that role created on or before the deal's creation",
        "roles": [role(f) for f in PLANTED],
        "decoy_roles": [role(f) for f in FAMILIES if not f.log_odds],
        "onboarding": {
            "family": ONBOARDING,
            "share_of_first_wins": ONBOARDING_SHARE,
            "days_after_close": list(ONBOARDING_DAYS),
            "note": "IT administrators added after a first win: present in won accounts more "
            "often, but only after the close; counting contacts known before the close sees "
            "no effect",
        },
        "contacts_per_account": "one per family present, each family independently with its "
        "prevalence; committee size has no effect of its own beyond the planted roles",
        "created": f"{EARLY_SHARE:.0%} up to {EARLY_DAYS} days before the account's first "
        f"deal, the rest up to {LATE_DAYS} days after it",
    }


COLUMNS = (
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Job Title",
    "Lifecycle Stage",
    "Create Date",
    "Associated Company IDs",
    "Associated Company",
)
ID_BASE = 7_300_000_000
_ASCII = str.maketrans({"é": "e", "ü": "u", "ö": "o", "'": ""})


def rows(
    people: People,
    rng: np.random.Generator,
    first_id: int,
    company: tuple[list[int], list[str], list[str], list[bool]],
    stamp: Any,
) -> list[tuple[Any, ...]]:
    """The contacts export rows (HubSpot layout) of one chunk. ``company`` holds per company
    its Record ID, name, domain and customer flag; ``stamp(day, minute)`` writes a date.
    A few emails are blank or personal addresses and a few titles blank, as in real exports."""
    ids, names, domains, customer = company
    n = len(people)
    u = rng.random(n)
    upper = rng.random(n) < 0.05
    title_blank = rng.random(n) < 0.03
    out: list[tuple[Any, ...]] = []
    for i, (c, f, t, d, m, fn, ln) in enumerate(zip(*(a.tolist() for a in _fields(people)),
                                                     strict=True)):  # fmt: skip
        first, last = FIRST_NAMES[fn], LAST_NAMES[ln]
        local = f"{first}.{last}".lower().translate(_ASCII)
        email = (
            "" if u[i] < 0.04 else f"{local}@gmail.com" if u[i] < 0.07 else f"{local}@{domains[c]}"
        )
        out.append(
            (
                first_id + i,
                first,
                last,
                email.upper() if upper[i] else email,
                "" if title_blank[i] else FAMILIES[f].titles[t],
                "Customer" if customer[c] else "Sales Qualified Lead",
                stamp(d, m),
                ids[c],
                names[c],
            )
        )
    return out
