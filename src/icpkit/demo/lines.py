"""A second product line for the demo CRM (opt-in): its own pipeline and its own planted ICP.

``make_crm(..., product_lines=2)`` gives every company one product line, drawn from a stream
of its own so that no other draw of the world moves: 35% of companies are line 2's and are
drawn from line 2's market (larger firms of five industries, Financial Services the most
common, Zendesk common) instead of the world's distributions. A company's deals carry its
line's Pipeline name in deals.csv ("Sales Pipeline" or "Compliance Pipeline"), and a line-2
New Business deal wins by line 2's fit model instead of line 1's (intent, disqualifiers and
the enterprise confounder apply to both). Line 1 is the CRM's usual planted ICP. ``is_icp``
in the truth files judges a company by its own line's ICP.

planted_truth.json then has ``product_lines``: one entry per line, line 1 first, each
``{"line", "name", "pipeline", "companies", "base_log_odds", "discriminators": [{"attribute",
"min"/"max" or "value", "direction", "log_odds", "kind": "fit"}], "disqualifiers",
"icp_definition": {"rule", "attributes"}, "acv_multiplier", "shared_effects"}``
(discriminators and disqualifiers in the shape of the top-level ones; a line's
``disqualifiers`` are those of the top level that can occur in its market, so that a judge of
the line's ICP asks only for exclusions its deals can show). With the plant off nothing here
runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from icpkit.demo import truth as T

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]

MAX_PRODUCT_LINES = 2
# Spawn key of chunk k's stream that draws each company's line and line 2's market:
# (k, *STREAM), apart from every other stream of the chunk, so turning the plant on moves none.
STREAM = (0, 2)
LINE_2_SHARE = 0.35  # share of companies that are line 2's
# Line 2 sells into a market of its own: its companies are drawn from these distributions
# (the same way as line 1's, other parameters), everything else about them as for line 1.
# Its head counts lie on both sides of line 2's size band, 501-1000 (about 25% below it, 32%
# above), so that a derivation can find both edges (both are edges of the default employee
# buckets), and never reach the micro disqualifier (1-10). Its industries are four, so that
# "Financial Services wins" is not the mirror of one other industry losing; Public
# Administration is not one of them. Financial Services holds most of it and the stack differs
# from line 1's (HubSpot rare, Jira and Zoom common), so that the two lines' won customers stay two
# groups to a clustering of head count, industry and stack.
MARKET_EMP_MEDIAN = 750.0
MARKET_EMP_SIGMA = 0.6
MARKET_EMP_MIN = T.MICRO_MAX + 1
MARKET_INDUSTRY_P = {
    "Financial Services": 0.88,
    "Health Care": 0.04,
    "IT Services": 0.04,
    "Manufacturing": 0.04,
}
MARKET_TECH_P = {
    "Zendesk": 0.6,
    "HubSpot": 0.03,
    "Jira": 0.8,
    "Zoom": 0.8,
}  # other tools as for line 1


@dataclass(frozen=True)
class ProductLine:
    """One product line: its Pipeline name and its planted fit model for New Business wins."""

    number: int
    name: str
    pipeline: str
    base_log_odds: float
    industries: tuple[str, ...]
    industry_log_odds: float
    employees: tuple[int, int]  # min and max, both included
    employees_log_odds: float
    tech: str
    tech_log_odds: float
    acv_multiplier: float
    # Top-level disqualifiers its market cannot hold, as judge.label names them
    absent_disqualifiers: tuple[str, ...] = ()

    def fits_size(self, emp: I64) -> Bool:
        """Whether each head count lies in the line's size band."""
        lo, hi = self.employees
        return np.asarray((emp >= lo) & (emp <= hi))

    def truth(self, share: str, disqualifiers: list[dict[str, Any]]) -> dict[str, Any]:
        """This line as planted_truth.json records it under ``product_lines``: the top-level
        ``disqualifiers`` less those its market cannot hold."""
        lo, hi = self.employees
        unknown = set(self.absent_disqualifiers) - {_label(d) for d in disqualifiers}
        if unknown:
            raise ValueError(f"line {self.number}: no such disqualifier: {sorted(unknown)}")

        def fit(attribute: str, log_odds: float, **what: Any) -> dict[str, Any]:
            return {"attribute": attribute, **what, "direction": "positive",
                    "log_odds": log_odds, "kind": "fit"}  # fmt: skip

        return {
            "line": self.number,
            "name": self.name,
            "pipeline": self.pipeline,
            "companies": share,
            "base_log_odds": self.base_log_odds,
            "discriminators": [
                fit("employees", self.employees_log_odds, min=lo, max=hi),
                *[fit("industry", self.industry_log_odds, value=i) for i in self.industries],
                fit("tech", self.tech_log_odds, value=self.tech),
            ],
            "disqualifiers": [
                d for d in disqualifiers if _label(d) not in self.absent_disqualifiers
            ],
            "icp_definition": {
                "rule": f"employees {lo}-{hi} AND industry {' or '.join(self.industries)} "
                f"AND tech {self.tech}",
                "attributes": ["employees", "industry", "tech"],
            },
            "acv_multiplier": self.acv_multiplier,
            "shared_effects": "intent_signals, disqualifiers and targeting_confounder apply "
            "to this line's deals as to every deal; this line's disqualifiers are those its "
            "market can hold",
        }


LINES = (
    ProductLine(
        number=1,
        name="Core",
        pipeline="Sales Pipeline",
        base_log_odds=T.BASE_LOG_ODDS,
        industries=("Software",),
        industry_log_odds=T.FIT_SOFTWARE,
        employees=(T.MID_MIN, T.MID_MAX),
        employees_log_odds=T.FIT_MID_MARKET,
        tech="HubSpot",
        tech_log_odds=T.FIT_HUBSPOT,
        acv_multiplier=1.0,
    ),
    ProductLine(
        number=2,
        name="Compliance",
        pipeline="Compliance Pipeline",
        base_log_odds=-3.0,
        industries=("Financial Services",),
        industry_log_odds=2.2,
        employees=(501, 1000),
        employees_log_odds=1.6,
        tech="Zendesk",
        tech_log_odds=1.4,
        acv_multiplier=1.6,
        absent_disqualifiers=(
            "industry Public Administration",
            f"employees {T.MICRO_MIN}-{T.MICRO_MAX}",
        ),
    ),
)
PIPELINES = tuple(line.pipeline for line in LINES)


@dataclass(frozen=True)
class LinePlant:
    """The product line of each company of one chunk (0 for line 1, 1 for line 2) and the
    market attributes line-2 companies get in place of the world's draws."""

    line: I64
    emp: I64
    ind: I64
    tools: dict[int, Bool]

    @classmethod
    def draw(cls, seed: int, chunk: int, n_c: int) -> LinePlant:
        """The chunk's lines and market draws, from its own line stream."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk, *STREAM)))
        line = (rng.random(n_c) < LINE_2_SHARE).astype(np.int64)
        emp = np.rint(np.exp(rng.normal(np.log(MARKET_EMP_MEDIAN), MARKET_EMP_SIGMA, n_c)))
        emp = np.clip(emp, MARKET_EMP_MIN, T.EMP_MAX).astype(np.int64)
        names = list(MARKET_INDUSTRY_P)
        pick = rng.choice(len(names), n_c, p=list(MARKET_INDUSTRY_P.values()))
        ind = np.asarray([T.INDUSTRIES.index(n) for n in names], dtype=np.int64)[pick]
        tools = {T.TOOLS.index(t): rng.random(n_c) < p for t, p in MARKET_TECH_P.items()}
        return cls(line, emp, ind, tools)

    def market(self, emp: I64, ind: I64, tech: Bool) -> tuple[I64, I64, Bool, I64]:
        """Head count, industry, stack and stack bitmask with line 2's companies redrawn."""
        two = self.line == 1
        emp = np.where(two, self.emp, emp)
        ind = np.where(two, self.ind, ind)
        tech = tech.copy()
        for j, has in self.tools.items():
            tech[:, j] = np.where(two, has, tech[:, j])
        tech_mask = (tech.astype(np.int64) << np.arange(len(T.TOOLS))).sum(axis=1)
        return emp, ind, tech, tech_mask

    def fits(self, emp: I64, ind: I64, tech: Bool) -> Bool:
        """Whether each company fits line 2's ICP (all three of its fit attributes)."""
        line = LINES[1]
        size = line.fits_size(emp)
        industry = _industry(ind, line)
        return np.asarray(size & industry & tech[:, T.TOOLS.index(line.tech)])

    def icp(self, line_1_icp: Bool, emp: I64, ind: I64, tech: Bool) -> Bool:
        """Each company's ICP flag judged by the ICP of its own line."""
        return np.where(self.line == 1, self.fits(emp, ind, tech), line_1_icp)

    def fit_log_odds(self, line_1: F64, comp: I64, emp: I64, ind: I64, tech: Bool) -> F64:
        """Base plus fit log-odds per deal: line 1's as given, line 2's for its companies."""
        line = LINES[1]
        e, i = emp[comp], ind[comp]
        x = np.full(len(comp), line.base_log_odds)
        x += line.employees_log_odds * line.fits_size(e)
        x += line.industry_log_odds * _industry(i, line)
        x += line.tech_log_odds * tech[comp, T.TOOLS.index(line.tech)]
        return np.asarray(np.where(self.line[comp] == 1, x, line_1), dtype=np.float64)

    def acv_multiplier(self, comp: I64) -> F64:
        """Each deal's ACV factor for its line."""
        factors = np.asarray([line.acv_multiplier for line in LINES])
        return np.asarray(factors[self.line[comp]], dtype=np.float64)


def _label(planted: dict[str, Any]) -> str:
    """'industry Public Administration', 'employees 1-10': a planted item in the words
    icpkit.demo.judge.label uses (the generator does not depend on the judge)."""
    if "value" in planted:
        return f"{planted['attribute']} {planted['value']}"
    high = planted.get("max")
    return f"{planted['attribute']} {planted['min']}" + (f"-{high}" if high else "+")


def _industry(ind: I64, line: ProductLine) -> Bool:
    return np.isin(ind, [T.INDUSTRIES.index(i) for i in line.industries])


def truth(product_lines: int, disqualifiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """planted_truth.json's ``product_lines``: one entry per line, line 1 first, each with the
    top-level ``disqualifiers`` its market can hold."""
    market = ", ".join(f"{k} {v:.0%}" for k, v in MARKET_INDUSTRY_P.items())
    tools = ", ".join(f"{k} {v:.0%}" for k, v in MARKET_TECH_P.items())
    targeting = [
        f"{1 - LINE_2_SHARE:.0%} of companies, drawn as the world's companies are",
        f"{LINE_2_SHARE:.0%} of companies, from a market of their own: employees log-normal "
        f"median {MARKET_EMP_MEDIAN:.0f} sigma {MARKET_EMP_SIGMA} clipped to "
        f"{MARKET_EMP_MIN}-{T.EMP_MAX}; industry {market}; "
        f"{tools} (other tools as for line 1)",
    ]
    return [
        line.truth(share, disqualifiers)
        for line, share in zip(LINES[:product_lines], targeting, strict=True)
    ]


def check(product_lines: int) -> None:
    """Refuse a number of product lines the generator cannot plant."""
    if not 1 <= product_lines <= MAX_PRODUCT_LINES:
        raise ValueError(f"product_lines must be 1 or {MAX_PRODUCT_LINES}; got {product_lines}")
