"""Generate the synthetic CRM: messy HubSpot-style exports plus their planted ground truth."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from icpkit.demo import contacts as P
from icpkit.demo import lines as L
from icpkit.demo import truth as T
from icpkit.demo import vocab as V
from icpkit.demo.world import DEALS_TO_DAY, I64, NEVER, Bool, World, day_number, simulate
from icpkit.output.files import atomic_path, write_atomic

COMPANY_COLUMNS = (
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Website URL",
    "Number of Employees",
    "Annual Revenue",
    "Industry",
    "Country/Region",
    "City",
    "Year Founded",
    "Web Technologies",
    "Total Money Raised",
    "Create Date",
    "Lifecycle Stage",
    "Time Zone",
    "Lead Source",
    "Churned",
    "Churn Date",
    "Description",
)
DEAL_COLUMNS = (
    "Record ID",
    "Deal Name",
    "Deal Stage",
    "Pipeline",
    "Amount",
    "Close Date",
    "Create Date",
    "Deal Type",
    "Deal owner",
    "Associated Company IDs",
    "Associated Company",
)
SIGNAL_COLUMNS = ("Company Domain Name", "Company name", "Signal Type", "Signal Date", "Detail")
DEAL_TRUTH_COLUMNS = (
    "Record ID",
    "p_win",
    "is_icp",
    "Company Record ID",
    "Deal Type",
    "outcome",
    "employees",
    "industry",
    "country",
    "funding_intent",
    "sdr_intent",
)
COMPANY_TRUTH_COLUMNS = (
    "Record ID",
    "duplicate_record_id",
    "domain",
    "name",
    "employees",
    "industry",
    "country",
    "tech",
    "annual_revenue_usd",
    "is_icp",
    "customer",
    "customer_since",
    "churned",
    "churn_date",
    "tier",
)
SIGNAL_TYPES = ("funding_round", "job_posting", "leadership_change", "tech_added", "web_visit")

TRUTH_DIR = "truth"  # subfolder of the output holding the ground truth

COMPANY_ID_BASE = 5_100_000_000
DEAL_ID_BASE = 9_200_000_000
# Lower than every company ID the generator hands out, so it never resolves.
ORPHAN_COMPANY_ID = 5_099_999_999

# (file, column, description) of every counted quirk; planted_truth.json carries the counts.
QUIRKS: dict[str, tuple[str, str, str]] = {
    "utf8_bom": ("companies.csv", "*", "file starts with a UTF-8 byte order mark"),
    "crlf_line_endings": ("companies.csv,deals.csv", "*", "records end with CRLF"),
    "description_multiline": (
        "companies.csv",
        "Description",
        "quoted free text with embedded newlines, commas and double quotes",
    ),
    "description_with_quotes": ("companies.csv", "Description", "contains double quotes"),
    "employees_thousands_separator": ("companies.csv", "Number of Employees", "e.g. 1,200"),
    "employees_range": ("companies.csv", "Number of Employees", "band label, e.g. 51-200"),
    "employees_k_plus": ("companies.csv", "Number of Employees", "10K+ for 10,001+"),
    "employees_blank": ("companies.csv", "Number of Employees", "empty"),
    "revenue_thousands_separator": ("companies.csv", "Annual Revenue", "e.g. 5,000,000"),
    "revenue_short_usd": ("companies.csv", "Annual Revenue", "e.g. $5M, $5.2M, $850K"),
    "revenue_short_eur": (
        "companies.csv",
        "Annual Revenue",
        "e.g. €2.3M, euros at 1 EUR = 1.08 USD, DE/FR/NL only",
    ),
    "revenue_words": ("companies.csv", "Annual Revenue", "e.g. 1.2 billion, 35 million"),
    "revenue_blank": ("companies.csv", "Annual Revenue", "empty"),
    "domain_www": ("companies.csv", "Company Domain Name", "www. prefix"),
    "domain_url": ("companies.csv", "Company Domain Name", "https://www.Acme.io/ form"),
    "domain_uppercase": ("companies.csv", "Company Domain Name", "all upper case"),
    "domain_missing": (
        "companies.csv",
        "Company Domain Name",
        "no domain and no Website URL (signals still carry the domain)",
    ),
    "duplicate_company": (
        "companies.csv",
        "Record ID",
        "second record with the same domain and a variant name",
    ),
    "country_alias": ("companies.csv", "Country/Region", "USA, US, U.S., UK, England, DE, ..."),
    "country_blank": ("companies.csv", "Country/Region", "empty"),
    "industry_enum_style": ("companies.csv", "Industry", "HubSpot enum, e.g. COMPUTER_SOFTWARE"),
    "industry_lowercase": ("companies.csv", "Industry", "software"),
    "industry_typo": ("companies.csv", "Industry", "Computer Sofware"),
    "industry_blank": ("companies.csv", "Industry", "empty"),
    "name_accents": ("companies.csv", "Company name", "accented letters, e.g. Müzora"),
    "name_ampersand": ("companies.csv", "Company name", "contains &"),
    "name_formula_equals": (
        "companies.csv",
        "Company name",
        'starts with =, e.g. =HYPERLINK("http://x","y")',
    ),
    "name_formula_plus": ("companies.csv", "Company name", "starts with +"),
    "name_formula_at": ("companies.csv", "Company name", "starts with @"),
    "deal_name_with_comma": ("deals.csv", "Deal Name", "e.g. Acme, Inc. - New Business"),
    "stage_variant": ("deals.csv", "Deal Stage", "closedwon, Closed won, closedlost, Closed lost"),
    "amount_thousands_separator": ("deals.csv", "Amount", "e.g. 12,500.00"),
    "amount_dollar": ("deals.csv", "Amount", "e.g. $12,500"),
    "amount_blank": ("deals.csv", "Amount", "empty"),
    "amount_negative": ("deals.csv", "Amount", "planted bad cell: negative amount"),
    "close_date_unparseable": ("deals.csv", "Close Date", "planted bad cell: soon"),
    "close_before_create": ("deals.csv", "Close Date", "planted bad row: closes before creation"),
    "orphan_company_ref": (
        "deals.csv",
        "Associated Company IDs",
        "planted bad row: company Record ID that does not exist",
    ),
    "deal_on_duplicate_company": (
        "deals.csv",
        "Associated Company IDs",
        "deal attached to the duplicate company record",
    ),
}


@dataclass(frozen=True)
class DemoFiles:
    """Paths and row counts of one generated demo CRM."""

    out_dir: Path
    companies: Path
    deals: Path
    signals: Path
    planted_truth: Path
    deal_truth: Path
    company_truth: Path
    n_deals: int
    n_companies: int
    n_company_rows: int
    n_signals: int
    contacts: Path | None = None  # only when the buyer persona is planted
    n_contacts: int = 0

    def exports(self) -> list[Path]:
        """The CRM exports, in the order a user would ingest them."""
        people = [self.contacts] if self.contacts is not None else []
        return [self.companies, self.deals, self.signals, *people]

    def paths(self) -> list[Path]:
        """Every file written: the exports, then the ground truth."""
        return [*self.exports(), self.planted_truth, self.deal_truth, self.company_truth]

    def win_probabilities(self) -> dict[str, float]:
        """The generator's own win probability per deal, keyed like the store ('hubspot:id')."""
        with self.deal_truth.open(encoding="utf-8", newline="") as fh:
            return {f"hubspot:{r['Record ID']}": float(r["p_win"]) for r in csv.DictReader(fh)}

    def write_prospects(self, path: Path) -> int:
        """Write the companies that never bought (rows of the companies export, as exported)
        to ``path``: a prospect list to score. Returns the number of rows written."""
        with self.company_truth.open(encoding="utf-8", newline="") as fh:
            customers = {r["Record ID"] for r in csv.DictReader(fh) if r["customer"] == "1"}
        written = 0
        with (
            self.companies.open(encoding="utf-8-sig", newline="") as src,
            atomic_path(path) as tmp,
            tmp.open("w", encoding="utf-8", newline="") as dst,
        ):
            reader = csv.reader(src)
            writer = csv.writer(dst)
            header = next(reader)
            writer.writerow(header)
            for row in reader:
                if row and row[0] not in customers:
                    writer.writerow(row)
                    written += 1
        return written

    def write_deals_before(self, day: dt.date, path: Path) -> int:
        """Write the rows of the deals export created before ``day`` to ``path``: the deals
        an ICP derived before a planted drift learns from. Returns the rows written."""
        written = 0
        with (
            self.deals.open(encoding="utf-8", newline="") as src,
            atomic_path(path) as tmp,
            tmp.open("w", encoding="utf-8", newline="") as dst,
        ):
            reader = csv.reader(src)
            writer = csv.writer(dst)
            header = next(reader)
            created = header.index("Create Date")
            writer.writerow(header)
            for row in reader:
                # Creation dates are written ISO first ('2025-03-31 14:05').
                if row and row[created][:10] < day.isoformat():
                    writer.writerow(row)
                    written += 1
        return written

    def write_names_only(self, path: Path) -> int:
        """Write the companies export with only Record ID, Company name and Company Domain
        Name (as exported, quirks included) to ``path``: the names-and-domains export an
        enrichment starts from. Returns the rows written."""
        columns = ("Record ID", "Company name", "Company Domain Name")
        written = 0
        with (
            self.companies.open(encoding="utf-8-sig", newline="") as src,
            atomic_path(path) as tmp,
            tmp.open("w", encoding="utf-8", newline="") as dst,
        ):
            reader = csv.reader(src)
            writer = csv.writer(dst)
            header = next(reader)
            keep = [header.index(c) for c in columns]
            writer.writerow(columns)
            for row in reader:
                if row:
                    writer.writerow([row[i] for i in keep])
                    written += 1
        return written


TABLE_FROM_DAY = day_number("2015-01-01")
TABLE_TO_DAY = day_number("2027-01-01")
EU_COUNTRIES = (2, 3, 5)  # DE, FR, NL
USD_PER_EUR = 1.08
NAME_SPACE = len(V.SYLLABLES) ** 3 * len(V.DESCRIPTORS)
# Odd and prime to 5 and 7, so (index * NAME_MULT) mod NAME_SPACE is a bijection.
NAME_MULT = 2_654_435_761
STAGES = (
    "Closed Won",
    "closedwon",
    "Closed won",
    "Closed Lost",
    "closedlost",
    "Closed lost",
    *V.OPEN_STAGES,
)
DEAL_SUFFIXES = (" - New Business", *V.EXPANSION_DEAL_SUFFIXES)
DEAL_TYPES = ("New Business", "Existing Business")


@cache
def _date_tables() -> tuple[list[str], list[str], list[str]]:
    """ISO date, US date and HH:MM strings, indexed by day offset and minute of day."""
    days = np.arange(TABLE_FROM_DAY, TABLE_TO_DAY).astype("datetime64[D]")
    iso: list[str] = np.datetime_as_string(days).tolist()
    us = [f"{s[5:7]}/{s[8:10]}/{s[:4]}" for s in iso]
    hm = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
    return iso, us, hm


@cache
def _tech_table() -> list[str]:
    """Semicolon-joined tool list for every bitmask of the tool set."""
    return [
        ";".join(t for i, t in enumerate(T.TOOLS) if mask >> i & 1)
        for mask in range(1 << len(T.TOOLS))
    ]


def _choice_weighted(
    rng: np.random.Generator, table: tuple[tuple[tuple[str, float], ...], ...], group: I64
) -> I64:
    """Index of a weighted variant within each row's group (vectorized)."""
    width = max(len(g) for g in table)
    cum = np.ones((len(table), width))
    for i, g in enumerate(table):
        cum[i, : len(g)] = np.cumsum([w for _, w in g])
    u = rng.random(len(group))
    idx = (u[:, None] >= cum[group]).sum(axis=1)
    sizes = np.array([len(g) for g in table])
    result: I64 = np.minimum(idx, sizes[group] - 1).astype(np.int64)
    return result


def _short_money(v: float, symbol: str) -> str:
    if v >= 1e9:
        s, unit = f"{v / 1e9:.1f}", "B"
    elif v >= 1e6:
        s, unit = f"{v / 1e6:.1f}", "M"
    else:
        s, unit = f"{v / 1e3:.0f}", "K"
    return f"{symbol}{s.removesuffix('.0')}{unit}"


def _words_money(v: float) -> str:
    if v >= 1e9:
        return f"{v / 1e9:.1f}".removesuffix(".0") + " billion"
    return f"{v / 1e6:.1f}".removesuffix(".0") + " million"


def _planted_count(n: int, rate: float) -> int:
    return max(1, round(n * rate))


def _count(quirks: Counter[str], name: str, mask: Any) -> None:
    quirks[name] += int(np.count_nonzero(mask))


@dataclass
class _Names:
    """Identity strings of one chunk's companies."""

    domain: list[str]  # canonical, lower case
    base: list[str]  # "Kazomi Labs": what the signal vendor calls the company
    crm: list[str]  # company name on the CRM record (legal suffix, formula prefixes)
    alt: list[str]  # name on the duplicate record ("" where there is none)
    dup: Bool
    has_domain: Bool


def _names(w: World, fmt: np.random.Generator, seed: int, c0: int, quirks: Counter[str]) -> _Names:
    """Unique company names and domains, plus duplicates and formula-looking names."""
    n_c = len(w.emp)
    gidx = c0 + np.arange(n_c, dtype=np.int64)
    offset = int(np.random.SeedSequence(seed).generate_state(1)[0]) % NAME_SPACE
    code = (gidx * NAME_MULT + offset) % NAME_SPACE
    desc = (code % len(V.DESCRIPTORS)).tolist()
    s = code // len(V.DESCRIPTORS)
    n_syl, syl = len(V.SYLLABLES), V.SYLLABLES
    stems = [
        syl[a] + syl[b] + syl[d]
        for a, b, d in zip(
            (s % n_syl).tolist(), (s // n_syl % n_syl).tolist(), (s // n_syl**2).tolist(),
            strict=True,
        )
    ]  # fmt: skip
    tld = np.where(w.tld_own, np.asarray(V.COUNTRY_TLD, dtype=object)[w.cty], "com").tolist()
    domain = [f"{st}{V.DESCRIPTORS[dj][1]}.{t}" for st, dj, t in zip(stems, desc, tld, strict=True)]
    accent = (fmt.random(n_c) < 0.35) & np.isin(w.cty, (2, 3))
    cty = w.cty.tolist()
    display = [st.capitalize() for st in stems]
    for i in np.flatnonzero(accent).tolist():
        st = display[i]
        if cty[i] == 2:
            display[i] = st.replace("u", "ü", 1) if "u" in st else st.replace("o", "ö", 1)
        else:
            display[i] = st.replace("e", "é", 1)
    base = [f"{ds} {V.DESCRIPTORS[dj][0]}" for ds, dj in zip(display, desc, strict=True)]
    suffix_idx = _choice_weighted(fmt, V.LEGAL_SUFFIX, w.cty).tolist()
    suffixes = [V.LEGAL_SUFFIX[ci][si][0] for ci, si in zip(cty, suffix_idx, strict=True)]
    crm = [b + sf for b, sf in zip(base, suffixes, strict=True)]
    amp = np.fromiter((V.DESCRIPTORS[dj][0].startswith("&") for dj in desc), bool, n_c)

    has_domain = fmt.random(n_c) >= 0.03
    dup = has_domain & (fmt.random(n_c) < 0.01)
    upper = fmt.random(n_c) < 0.3
    alt = [""] * n_c
    for i in np.flatnonzero(dup).tolist():
        sf = suffixes[i]
        # Always differs from the original: swap the Inc. punctuation, add or drop a suffix.
        alt_sf = {" Inc.": ", Inc.", ", Inc.": " Inc", "": " Inc"}.get(sf, "")
        nm = base[i] + alt_sf
        alt[i] = nm.upper() if upper[i] else nm

    # Formula-looking names go on plain single records so each quirk is counted once.
    n_formula = _planted_count(n_c, 0.0005)
    picks = fmt.permutation(np.flatnonzero(~dup & ~amp))[: 3 * n_formula].tolist()
    for j, i in enumerate(picks):
        kind = ("equals", "plus", "at")[j // n_formula]
        if kind == "equals":
            crm[i] = f'=HYPERLINK("http://{domain[i]}","{base[i]}")'
        else:
            crm[i] = ("+" if kind == "plus" else "@") + crm[i]
        quirks[f"name_formula_{kind}"] += 1
    return _Names(domain, base, crm, alt, dup, has_domain)


def _employee_column(emp: I64, fmt: np.random.Generator, quirks: Counter[str]) -> list[str]:
    n = len(emp)
    upper = np.array([b[1] for b in V.EMPLOYEE_BANDS])
    band = np.searchsorted(upper, emp, "left")
    u = fmt.random(n)
    sep = fmt.random(n) < 0.3
    # 10,001+ companies are rare; a quarter of them carry the "10K+" label so it shows up.
    k_plus = (fmt.random(n) < 0.25) & (band == len(V.EMPLOYEE_BANDS) - 1)
    kind = np.select(
        [u < 0.04, k_plus, u < 0.10, (emp >= 1000) & sep],
        [1, 2, 3, 4],
        0,
    ).tolist()
    _count(quirks, "employees_blank", np.equal(kind, 1))
    _count(quirks, "employees_k_plus", np.equal(kind, 2))
    _count(quirks, "employees_range", np.equal(kind, 3))
    _count(quirks, "employees_thousands_separator", np.equal(kind, 4))
    labels = [b[2] for b in V.EMPLOYEE_BANDS]
    return [
        str(e) if k == 0 else "" if k == 1 else "10K+" if k == 2 else labels[b] if k == 3
        else f"{e:,}"
        for e, b, k in zip(emp.tolist(), band.tolist(), kind, strict=True)
    ]  # fmt: skip


def _revenue_column(w: World, fmt: np.random.Generator, quirks: Counter[str]) -> list[str]:
    u = fmt.random(len(w.revenue))
    eu = np.isin(w.cty, EU_COUNTRIES)
    kind = np.select(
        [u < 0.08, u < 0.12, u < 0.16, (u < 0.18) & eu, (u >= 0.18) & (u < 0.20)],
        [1, 2, 3, 4, 5],
        0,
    )
    for name, k in (
        ("revenue_blank", 1),
        ("revenue_thousands_separator", 2),
        ("revenue_short_usd", 3),
        ("revenue_short_eur", 4),
        ("revenue_words", 5),
    ):
        _count(quirks, name, kind == k)
    return [
        str(r) if k == 0 else "" if k == 1 else f"{r:,}" if k == 2
        else _short_money(r, "$") if k == 3 else _short_money(r / USD_PER_EUR, "€") if k == 4
        else _words_money(r)
        for r, k in zip(w.revenue.tolist(), kind.tolist(), strict=True)
    ]  # fmt: skip


def _domain_columns(
    nm: _Names, fmt: np.random.Generator, quirks: Counter[str]
) -> tuple[list[str], list[str]]:
    n = len(nm.domain)
    u = fmt.random(n)
    hd = nm.has_domain
    kind = np.select([~hd, u < 0.012, u < 0.020, u < 0.027], [1, 2, 3, 4], 0).tolist()
    _count(quirks, "domain_missing", np.equal(kind, 1))
    _count(quirks, "domain_www", np.equal(kind, 2))
    _count(quirks, "domain_url", np.equal(kind, 3))
    _count(quirks, "domain_uppercase", np.equal(kind, 4))
    dom = [
        d if k == 0 else "" if k == 1 else "www." + d if k == 2
        else f"https://www.{d.capitalize()}/" if k == 3 else d.upper()
        for d, k in zip(nm.domain, kind, strict=True)
    ]  # fmt: skip
    url_kind = np.where(hd, np.searchsorted([0.7, 0.8, 0.9], fmt.random(n), "right"), 3).tolist()
    url = [
        f"https://www.{d}" if k == 0 else f"http://{d}" if k == 1 else f"https://{d}/"
        if k == 2 else ""
        for d, k in zip(nm.domain, url_kind, strict=True)
    ]  # fmt: skip
    return dom, url


def _description_column(
    w: World, nm: _Names, fmt: np.random.Generator, quirks: Counter[str]
) -> list[str]:
    n = len(w.emp)
    u = fmt.random(n)
    audience = fmt.integers(0, len(V.DESCRIPTION_AUDIENCES), n).tolist()
    seats = fmt.integers(5, 400, n).tolist()
    cities = [cz[0] for group in V.CITIES for cz in group]
    kind = np.searchsorted([0.5, 0.96, 0.98], u, "right").tolist()
    _count(quirks, "description_with_quotes", np.greater_equal(kind, 2))
    _count(quirks, "description_multiline", np.equal(kind, 3))
    out = [""] * n
    for i, (k, ci) in enumerate(zip(kind, w.city.tolist(), strict=True)):
        if k == 1:
            out[i] = (
                f"{nm.base[i]} serves {V.DESCRIPTION_AUDIENCES[audience[i]]} from {cities[ci]}."
            )
        elif k == 2:
            who = V.DESCRIPTION_AUDIENCES[audience[i]]
            out[i] = f'{nm.base[i]} calls itself "the go-to partner for {who}", per its website.'
        elif k == 3:
            out[i] = (
                f"Notes from discovery call:\n- {seats[i]} seats, evaluating options, "
                f'"budget approved"\n- HQ in {cities[ci]}, decision expected next quarter'
            )
    return out


def _write_companies(
    out: Any, w: World, nm: _Names, fmt: np.random.Generator, quirks: Counter[str], c0: int
) -> int:
    """Write the chunk's companies.csv rows (duplicates last); returns the row count."""
    n_c = len(w.emp)
    iso, _, hm = _date_tables()
    dom, url = _domain_columns(nm, fmt, quirks)
    emp = _employee_column(w.emp, fmt, quirks)
    rev = _revenue_column(w, fmt, quirks)
    ind_variant = _choice_weighted(fmt, V.INDUSTRY_RAW, w.ind)
    ind_blank = fmt.random(n_c) < 0.02
    ind_raw = [[v for v, _ in g] for g in V.INDUSTRY_RAW]
    industry = [
        "" if b else ind_raw[i][v]
        for i, v, b in zip(w.ind.tolist(), ind_variant.tolist(), ind_blank.tolist(), strict=True)
    ]
    cty_variant = _choice_weighted(fmt, V.COUNTRY_RAW, w.cty)
    cty_blank = fmt.random(n_c) < 0.015
    cty_raw = [[v for v, _ in g] for g in V.COUNTRY_RAW]
    country = [
        "" if b else cty_raw[c][v]
        for c, v, b in zip(w.cty.tolist(), cty_variant.tolist(), cty_blank.tolist(), strict=True)
    ]
    founded_blank = fmt.random(n_c) < 0.1
    description = _description_column(w, nm, fmt, quirks)
    cities = [cz for group in V.CITIES for cz in group]
    city_l = w.city.tolist()
    tech = _tech_table()
    prospect = [V.LIFECYCLE_PROSPECT[i] for i in w.prospect_stage.tolist()]
    lifecycle = [
        "Customer" if cu else "Opportunity" if ho else "Sales Qualified Lead" if nd > 0 else pl
        for cu, ho, nd, pl in zip(
            w.customer.tolist(), w.has_open.tolist(), w.n_deals_of.tolist(), prospect,
            strict=True,
        )
    ]  # fmt: skip
    created = [
        f"{iso[d - TABLE_FROM_DAY]} {hm[m]}"
        for d, m in zip(w.create_day.tolist(), w.create_min.tolist(), strict=True)
    ]
    company_id = (COMPANY_ID_BASE + 2 * (c0 + np.arange(n_c))).tolist()
    columns: list[list[Any]] = [
        company_id,
        nm.crm,
        dom,
        url,
        emp,
        rev,
        industry,
        country,
        [cities[i][0] for i in city_l],
        ["" if b else f for f, b in zip(w.founded.tolist(), founded_blank.tolist(), strict=True)],
        [tech[m] for m in w.tech_mask.tolist()],
        [r or "" for r in w.raised.tolist()],
        created,
        lifecycle,
        [cities[i][1] for i in city_l],
        [V.LEAD_SOURCES[i] for i in w.lead.tolist()],
        [
            ("Yes" if ch else "No") if cu else ""
            for cu, ch in zip(w.customer.tolist(), w.churned.tolist(), strict=True)
        ],
        [
            iso[d - TABLE_FROM_DAY] if ch else ""
            for d, ch in zip(w.churn_day.tolist(), w.churned.tolist(), strict=True)
        ],
        description,
    ]
    out.writerows(zip(*columns, strict=True))

    # Duplicate records: same domain, another Record ID, a variant name, sparser fields.
    dup_idx = np.flatnonzero(nm.dup).tolist()
    dup_www = (fmt.random(len(dup_idx)) < 0.5).tolist()
    dup_emp_blank = (fmt.random(len(dup_idx)) < 0.5).tolist()
    dup_lag = fmt.integers(30, 400, len(dup_idx)).tolist()
    dup_rows = []
    for j, i in enumerate(dup_idx):
        row = [col[i] for col in columns]
        row[0] = company_id[i] + 1
        row[1] = nm.alt[i]
        row[2] = ("www." + nm.domain[i]) if dup_www[j] else nm.domain[i]
        row[4] = "" if dup_emp_blank[j] else row[4]
        day = min(int(w.create_day[i]) + dup_lag[j], DEALS_TO_DAY)
        row[12] = f"{iso[day - TABLE_FROM_DAY]} {hm[int(w.create_min[i])]}"
        row[13], row[16], row[17], row[18] = "Lead", "", "", ""
        dup_rows.append(row)
        quirks["domain_www"] += dup_www[j]
        for quirk in (_employee_quirk(row[4]), _revenue_quirk(row[5])):
            if quirk:
                quirks[quirk] += 1
    out.writerows(dup_rows)
    _count(quirks, "duplicate_company", nm.dup)
    names = nm.crm + [str(r[1]) for r in dup_rows]
    industries = industry + [str(r[6]) for r in dup_rows]
    countries = country + [str(r[7]) for r in dup_rows]
    for quirk in map(_industry_quirk, industries):
        if quirk:
            quirks[quirk] += 1
    for quirk in map(_country_quirk, countries):
        if quirk:
            quirks[quirk] += 1
    quirks["name_accents"] += sum(not n.isascii() for n in names)
    quirks["name_ampersand"] += sum("&" in n for n in names)
    return n_c + len(dup_rows)


def _employee_quirk(value: str) -> str | None:
    if value == "":
        return "employees_blank"
    if value == "10K+":
        return "employees_k_plus"
    if "-" in value or value.endswith("+"):
        return "employees_range"
    return "employees_thousands_separator" if "," in value else None


def _revenue_quirk(value: str) -> str | None:
    if value == "":
        return "revenue_blank"
    if value.startswith("$"):
        return "revenue_short_usd"
    if value.startswith("€"):
        return "revenue_short_eur"
    if value.endswith("illion"):
        return "revenue_words"
    return "revenue_thousands_separator" if "," in value else None


def _industry_quirk(value: str) -> str | None:
    if value == "":
        return "industry_blank"
    if value == V.INDUSTRY_TYPO:
        return "industry_typo"
    if value == "software":
        return "industry_lowercase"
    return "industry_enum_style" if value.isupper() and "_" in value else None


_CANONICAL_COUNTRY_NAMES = frozenset(g[0][0] for g in V.COUNTRY_RAW)


def _country_quirk(value: str) -> str | None:
    if value == "":
        return "country_blank"
    return None if value in _CANONICAL_COUNTRY_NAMES else "country_alias"


def _write_deals(
    out: Any,
    w: World,
    nm: _Names,
    fmt: np.random.Generator,
    quirks: Counter[str],
    k: int,
    d0: int,
    c0: int,
) -> None:
    """Write the chunk's deals.csv rows, including the planted bad cells."""
    n_d = len(w.comp)
    iso, us, hm = _date_tables()
    c = w.comp
    on_dup = nm.dup[c] & (fmt.random(n_d) < 0.3)
    closed_idx = np.flatnonzero(w.closed)
    perm = fmt.permutation(closed_idx).tolist()
    n_each = min(_planted_count(n_d, 0.001), len(perm) // 4)
    n_before = min(_planted_count(n_d, 0.0015), len(perm) // 4)
    bad_neg = perm[:n_each]
    bad_soon = perm[n_each : 2 * n_each]
    bad_before = perm[2 * n_each : 2 * n_each + n_before]
    orphan = perm[2 * n_each + n_before] if k == 0 and len(perm) > 3 * n_each + n_before else -1
    before_lag = fmt.integers(1, 31, len(bad_before)).tolist()
    stage_u = fmt.random(n_d)
    amount_kind = np.searchsorted([0.92, 0.96, 0.99], fmt.random(n_d), "right")

    company_id = COMPANY_ID_BASE + 2 * (c0 + c)
    ref_id = (company_id + on_dup).tolist()
    c_l, on_dup_l = c.tolist(), on_dup.tolist()
    ref_name = [nm.alt[ci] if od else nm.crm[ci] for ci, od in zip(c_l, on_dup_l, strict=True)]
    suffix = np.where(w.is_eb, 1 + w.eb_suffix, 0).tolist()
    deal_name = [rn + DEAL_SUFFIXES[j] for rn, j in zip(ref_name, suffix, strict=True)]
    variant = np.searchsorted([0.975, 0.99], stage_u, "right")  # 0 canonical, 1 ..., 2 ...
    stage_code = np.where(
        w.closed, np.where(w.won, 0, 3) + np.choose(variant, [0, 1, 2]), 6 + w.stage_open
    ).tolist()
    amount_l = w.amount.tolist()
    amount = [
        str(a) if k_ == 0 else f"${a:,}" if k_ == 1 else f"{a:,.2f}" if k_ == 2 else ""
        for a, k_ in zip(amount_l, amount_kind.tolist(), strict=True)
    ]
    close = [
        us[d - TABLE_FROM_DAY] if cl else ""
        for d, cl in zip(w.close_day.tolist(), w.closed.tolist(), strict=True)
    ]
    cday_l = w.cday.tolist()
    created = [
        f"{iso[d - TABLE_FROM_DAY]} {hm[m]}" for d, m in zip(cday_l, w.cmin.tolist(), strict=True)
    ]
    for i in bad_neg:
        amount[i] = f"-{amount_l[i]}"
    for i in bad_soon:
        close[i] = "soon"
    for i, lag in zip(bad_before, before_lag, strict=True):
        close[i] = us[cday_l[i] - lag - TABLE_FROM_DAY]
    if orphan >= 0:
        ref_id[orphan] = ORPHAN_COMPANY_ID
        ref_name[orphan] = ""
        deal_name[orphan] = nm.base[c_l[orphan]] + DEAL_SUFFIXES[suffix[orphan]]
        on_dup_l[orphan] = False
        quirks["orphan_company_ref"] += 1

    stage_variant = w.closed & (variant > 0)
    _count(quirks, "stage_variant", stage_variant)
    neg = np.zeros(n_d, dtype=bool)
    neg[bad_neg] = True
    _count(quirks, "amount_dollar", (amount_kind == 1) & ~neg)
    _count(quirks, "amount_thousands_separator", (amount_kind == 2) & ~neg)
    _count(quirks, "amount_blank", (amount_kind == 3) & ~neg)
    quirks["amount_negative"] += len(bad_neg)
    quirks["close_date_unparseable"] += len(bad_soon)
    quirks["close_before_create"] += len(bad_before)
    quirks["deal_on_duplicate_company"] += sum(on_dup_l)
    quirks["deal_name_with_comma"] += sum("," in n for n in deal_name)

    lines = np.zeros(n_d, np.int64) if w.line is None else w.line[c]
    pipeline = [L.PIPELINES[j] for j in lines.tolist()]
    out.writerows(
        zip(
            (DEAL_ID_BASE + d0 + np.arange(n_d)).tolist(),
            deal_name,
            [STAGES[j] for j in stage_code],
            pipeline,
            amount,
            close,
            created,
            [DEAL_TYPES[j] for j in w.is_eb.astype(np.int64).tolist()],
            [V.DEAL_OWNERS[j] for j in w.owner.tolist()],
            ref_id,
            ref_name,
            strict=True,
        )
    )


def _dictionary(codes: I64, values: tuple[str, ...]) -> Any:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values))


def _dates(days: I64, valid: Bool | None = None) -> Any:
    mask = None if valid is None else ~valid
    return pa.array(np.where(days == NEVER, 0, days).astype(np.int32), pa.date32(), mask=mask)


def _write_table(fh: IO[bytes], columns: dict[str, Any]) -> None:
    pacsv.write_csv(pa.table(columns), fh, pacsv.WriteOptions(include_header=False))


def _write_signals(fh: IO[bytes], w: World, nm: _Names, fmt: np.random.Generator) -> None:
    """Write the chunk's signals.csv rows, ordered by company and date."""
    order = np.lexsort((w.s_type, w.s_day, w.s_comp))
    s_comp, s_type, s_code = w.s_comp[order], w.s_type[order], w.s_code[order]
    detail_tables = (
        V.FUNDING_STAGES,
        V.JOB_ROLES,
        V.LEADERSHIP_DETAILS,
        T.TOOLS,
        V.WEB_PAGES,
    )
    details = [
        detail_tables[t][code] for t, code in zip(s_type.tolist(), s_code.tolist(), strict=True)
    ]
    # Half of the funding rounds carry their amount, as in "$12M Series B".
    prefix = ((s_type == 0) & (fmt.random(len(order)) < 0.5)).nonzero()[0].tolist()
    usd = w.s_usd[order]
    for i in prefix:
        details[i] = _short_money(int(usd[i]), "$") + " " + details[i]
    comp_idx = pa.array(s_comp)
    _write_table(
        fh,
        {
            "Company Domain Name": pa.array(nm.domain).take(comp_idx),
            "Company name": pa.array(nm.base).take(comp_idx),
            "Signal Type": _dictionary(s_type, SIGNAL_TYPES),
            "Signal Date": _dates(w.s_day[order]),
            "Detail": pa.array(details),
        },
    )


def _write_deal_truth(fh: IO[bytes], w: World, d0: int, c0: int) -> None:
    c = w.comp
    outcome = np.where(w.closed, np.where(w.won, 0, 1), 2)
    _write_table(
        fh,
        {
            "Record ID": DEAL_ID_BASE + d0 + np.arange(len(c)),
            "p_win": np.round(w.p_win, 4),
            "is_icp": w.icp[c].astype(np.int8),
            "Company Record ID": COMPANY_ID_BASE + 2 * (c0 + c),
            "Deal Type": _dictionary(w.is_eb.astype(np.int64), DEAL_TYPES),
            "outcome": _dictionary(outcome, ("won", "lost", "open")),
            "employees": w.emp[c],
            "industry": _dictionary(w.ind[c], T.INDUSTRIES),
            "country": _dictionary(w.cty[c], T.COUNTRIES),
            "funding_intent": w.fund.astype(np.int8),
            "sdr_intent": w.sdr.astype(np.int8),
        },
    )


def _write_company_truth(fh: IO[bytes], w: World, nm: _Names, c0: int) -> None:
    n_c = len(w.emp)
    company_id = COMPANY_ID_BASE + 2 * (c0 + np.arange(n_c))
    _write_table(
        fh,
        {
            "Record ID": company_id,
            "duplicate_record_id": pa.array(company_id + 1, mask=~nm.dup),
            "domain": pa.array(nm.domain),
            "name": pa.array(nm.base),
            "employees": w.emp,
            "industry": _dictionary(w.ind, T.INDUSTRIES),
            "country": _dictionary(w.cty, T.COUNTRIES),
            "tech": pa.array(_tech_table()).take(pa.array(w.tech_mask)),
            "annual_revenue_usd": w.revenue,
            "is_icp": w.icp.astype(np.int8),
            "customer": w.customer.astype(np.int8),
            "customer_since": _dates(w.since, w.customer),
            "churned": w.churned.astype(np.int8),
            "churn_date": _dates(w.churn_day, w.churned),
            "tier": pa.array(w.tier, mask=w.tier == 0),
        },
    )


def _write_contacts(
    out: Any, w: World, nm: _Names, seed: int, k: int, c0: int, counts: Counter[str]
) -> None:
    """Write the chunk's contacts.csv rows (a presentation stream of their own)."""
    assert w.people is not None
    iso, _, hm = _date_tables()
    n_c = len(w.emp)
    company = (
        (COMPANY_ID_BASE + 2 * (c0 + np.arange(n_c))).tolist(),
        nm.crm,
        nm.domain,
        w.customer.tolist(),
    )
    fmt = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, 3)))

    def stamp(day: int, minute: int) -> str:
        return f"{iso[day - TABLE_FROM_DAY]} {hm[minute]}"

    first_id = P.ID_BASE + counts["contacts"]
    out.writerows(P.rows(w.people, fmt, first_id, company, stamp))
    counts["contacts"] += len(w.people)


class _Outputs:
    """The open output files of one generation run, headers written."""

    def __init__(self, stack: ExitStack, paths: dict[str, Path]) -> None:
        def text(name: str, encoding: str, columns: tuple[str, ...]) -> Any:
            # Each file is written beside its name and renamed into place when complete.
            tmp = stack.enter_context(atomic_path(paths[name]))
            fh = stack.enter_context(
                tmp.open("w", encoding=encoding, newline="", buffering=1 << 20)
            )
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(columns)
            return writer

        def binary(name: str, columns: tuple[str, ...]) -> IO[bytes]:
            tmp = stack.enter_context(atomic_path(paths[name]))
            fh: IO[bytes] = stack.enter_context(tmp.open("wb"))
            fh.write((",".join(columns) + "\n").encode())
            return fh

        # utf-8-sig writes the BOM that HubSpot puts in front of company exports.
        self.companies = text("companies", "utf-8-sig", COMPANY_COLUMNS)
        self.deals = text("deals", "utf-8", DEAL_COLUMNS)
        self.signals = binary("signals", SIGNAL_COLUMNS)
        self.deal_truth = binary("deal_truth", DEAL_TRUTH_COLUMNS)
        self.company_truth = binary("company_truth", COMPANY_TRUTH_COLUMNS)
        self.contacts = text("contacts", "utf-8", P.COLUMNS) if "contacts" in paths else None


def _chunk(
    seed: int,
    k: int,
    d0: int,
    n_d: int,
    c0: int,
    n_c: int,
    out: _Outputs,
    counts: Counter[str],
    quirks: Counter[str],
    drift: T.Drift | None = None,
    product_lines: int = 1,
) -> None:
    """Generate and write chunk k: n_d deals (IDs from d0) on n_c companies (from c0)."""
    # Two independent streams per chunk: the world (true attributes and outcomes) and its
    # presentation (formats, typos, planted bad cells), so messiness never moves the truth.
    world = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, 0)))
    plant = L.LinePlant.draw(seed, k, n_c) if product_lines > 1 else None
    people = None
    if out.contacts is not None:
        people = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, 2)))
    w = simulate(world, n_d, n_c, drift, plant, people)
    fmt = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, 1)))
    nm = _names(w, fmt, seed, c0, quirks)
    counts["company_rows"] += _write_companies(out.companies, w, nm, fmt, quirks, c0)
    _write_deals(out.deals, w, nm, fmt, quirks, k, d0, c0)
    _write_signals(out.signals, w, nm, fmt)
    _write_deal_truth(out.deal_truth, w, d0, c0)
    _write_company_truth(out.company_truth, w, nm, c0)
    if out.contacts is not None and w.people is not None:
        _write_contacts(out.contacts, w, nm, seed, k, c0, counts)

    counts["companies"] += n_c
    counts["deals"] += n_d
    counts["signals"] += len(w.s_comp)
    counts["closed_won"] += int(w.won.sum())
    counts["closed_lost"] += int((w.closed & ~w.won).sum())
    counts["open"] += int((~w.closed).sum())
    counts["new_business"] += int((~w.is_eb).sum())
    counts["existing_business"] += int(w.is_eb.sum())
    counts["icp_companies"] += int(w.icp.sum())
    counts["customers"] += int(w.customer.sum())
    counts["churned"] += int(w.churned.sum())
    for t in (1, 2, 3):
        counts[f"tier_{t}"] += int((w.tier == t).sum())


def make_crm(
    n_deals: int,
    seed: int,
    out_dir: Path,
    *,
    chunk_size: int = 100_000,
    drift: T.Drift | None = None,
    product_lines: int = 1,
    contacts: bool = False,
) -> DemoFiles:
    """Write a messy synthetic HubSpot CRM with a planted ICP into out_dir, chunk by chunk.

    Output is byte-identical for the same (n_deals, seed, chunk_size); memory use is bounded
    by chunk_size, not n_deals. ``drift`` (off by default) plants a fall in one segment's
    win rate after a date (see ``truth.Drift``); without it nothing changes.
    ``product_lines=2`` (default 1) plants a second product line: each company belongs to
    one line, its deals carry that line's Pipeline, and line 2 has its own planted ICP;
    planted_truth.json then lists each line's criteria under ``product_lines`` (see
    ``demo.lines`` and PLANTED_TRUTH.md). With 1 nothing changes.
    ``contacts=True`` (default off) also writes contacts.csv and plants a buyer persona:
    deals of accounts with a VP of Sales or a revenue operations manager win more
    (``demo.contacts``); planted_truth.json records it under ``persona``.
    """
    if n_deals < 100:
        raise ValueError("n_deals must be at least 100")
    L.check(product_lines)
    if chunk_size < 1000:
        raise ValueError("chunk_size must be at least 1000")
    if round(n_deals * T.COMPANIES_PER_DEAL) > NAME_SPACE:
        raise ValueError(f"n_deals too large: at most {int(NAME_SPACE / T.COMPANIES_PER_DEAL)}")
    out_dir = Path(out_dir)
    # The ground truth goes in a folder of its own, so `icp ingest out/*.csv` reads only
    # the exports.
    truth_dir = out_dir / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.csv" for name in ("companies", "deals", "signals")}
    paths |= {name: truth_dir / f"{name}.csv" for name in ("deal_truth", "company_truth")}
    if contacts:
        paths["contacts"] = out_dir / "contacts.csv"
    counts: Counter[str] = Counter()
    quirks: Counter[str] = Counter()
    with ExitStack() as stack:
        outputs = _Outputs(stack, paths)
        c_start = 0
        for k, d_start in enumerate(range(0, n_deals, chunk_size)):
            d_end = min(n_deals, d_start + chunk_size)
            c_end = max(c_start + 1, round(d_end * T.COMPANIES_PER_DEAL))
            _chunk(seed, k, d_start, d_end - d_start, c_start, c_end - c_start, outputs,
                   counts, quirks, drift, product_lines)  # fmt: skip
            c_start = c_end
    quirks["utf8_bom"] = 1
    quirks["crlf_line_endings"] = 2
    quirk_list = [
        {"name": name, "file": f, "column": col, "count": int(quirks[name]), "description": d}
        for name, (f, col, d) in QUIRKS.items()
    ]
    count_dict = {key: int(v) for key, v in sorted(counts.items())}
    truth_path = truth_dir / "planted_truth.json"
    doc = T.planted_truth(seed, n_deals, count_dict, quirk_list, drift)
    if product_lines > 1:
        doc["product_lines"] = L.truth(product_lines, doc["disqualifiers"])
    if contacts:
        doc["persona"] = P.truth()
    write_atomic(truth_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return DemoFiles(
        out_dir=out_dir,
        companies=paths["companies"],
        deals=paths["deals"],
        signals=paths["signals"],
        planted_truth=truth_path,
        deal_truth=paths["deal_truth"],
        company_truth=paths["company_truth"],
        n_deals=counts["deals"],
        n_companies=counts["companies"],
        n_company_rows=counts["company_rows"],
        n_signals=counts["signals"],
        contacts=paths.get("contacts"),
        n_contacts=counts["contacts"],
    )
