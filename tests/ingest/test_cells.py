"""Column lookups and name keys: the SQL twins give exactly what the Python normalizers give."""

from __future__ import annotations

import random
from collections.abc import Callable

import duckdb
import pyarrow as pa
import pytest

from helpers import cases
from icpkit.config import IngestSettings
from icpkit.ingest import distinct
from icpkit.ingest.cells import (
    build_lookup,
    fast_path,
    money_limit,
    name_keys_sql,
    suffix_tables,
)
from icpkit.ingest.distinct import money_twin, normalize_distinct
from icpkit.ingest.fields import FIELDS
from icpkit.ingest.normalize.money import _shown_by
from icpkit.ingest.normalize.names import company_name_key

SPECS = {s.name: s for s in FIELDS["companies"]} | {s.name: s for s in FIELDS["deals"]}

# Head counts with separators, grouped or not as thousands are ('0,123' is not a count).
GROUPED = ["0,123", "01,234", "1,234,567", "3,000,001", "1,000,000,000", "12,34", "1,2345", "1.234"]
CASES = {
    "amount": ["12500", "12500.50", "0", "007", "99999999999", "1,200", "$5", "-3", "1e3"],
    "revenue": ["5000000", "5000000.25", "$5M", "5,000,000", "1.2 billion"],
    "employees": ["1", "137", "0", "3000000", "3000001", "51-200", "1,200", "12.0", *GROUPED],
    "created_at": [
        "2024-03-05",
        "2024-03-05 10:22",
        "2024-03-05T10:22:59",
        "2024-02-30",
        "1899-12-31",
        "2024-03-05T10:22:00+02:00",
        "03/05/2024",
    ],
    "company_domain": [
        "acme.io",
        "acme.com",
        "co.uk",
        "github.io",
        "x.ck",
        "www.acme.io",
        "ACME.io",
        "a-b.de",
        "acme.co.uk",
        "facebook.com",
        "linkedin.com",
        "wixsite.com",
    ],
}


@pytest.mark.parametrize("field", sorted(CASES))
def test_fast_path_agrees_with_the_normalizer(field: str) -> None:
    spec = SPECS[field]
    settings = IngestSettings()
    fast = fast_path(spec, settings)
    assert fast is not None
    values = CASES[field]
    python = build_lookup(spec, values, settings).table.to_pylist()
    con = duckdb.connect()
    for name, rows in suffix_tables().items():
        con.register(name, rows)
    con.register("vals", pa.table({"v": values}))
    where, outputs = fast.sql("v")
    rows = con.execute(f"SELECT v, {', '.join(outputs)} FROM vals WHERE {where}").fetchall()
    assert rows, "the fast path should cover the plain cases"
    by_raw = {r["raw"]: r for r in python}
    for raw, *out in rows:
        expected = by_raw[raw]
        assert expected["error"] is None, raw
        names = [k for k in expected if k not in ("raw", "error")]
        assert tuple(out) == tuple(expected[n] for n in names), raw


def _name_samples() -> list[str]:
    """Company names as exports write them, with every combination of the rules' edges:
    legal forms (several, dotted, after '&' or 'and'), a leading 'The', punctuation, case,
    null tokens, nothing but legal forms, non-ASCII letters."""
    rng = random.Random(7)
    words = ["acme", "the", "and", "co", "inc", "global", "x", "AT&T", "Smith", "o'neil"]
    forms = ["Inc.", "LLC", "L.L.C.", "Co", "& Co", "and Co", "Pty Ltd", "GmbH", "S.A.", "corp"]
    joins = [" ", "  ", ", ", " - ", "_", "/", "."]
    table = "legal_forms_case_and_punctuation_do_not_change_the_key"
    names = [c.values[0] for c in cases("names", table)]
    names += [c.values[0] for c in cases("names", "company_name_keys")]
    names += ["", " ", "N/A", "null", "-", "Inc", "Co Inc", "and Inc", "The", "the inc", "---"]
    names += ["Zoë AG", "Müller GmbH", "Tab\tCo", "Acme’s Inc", "Straße GmbH", "Ærø ApS"]
    names += ["ÉCOLE & Cie", "The Überbau Ltd", "Ñandú S.A.", "Ça Inc", "e\u0301cole", "Ørsted"]
    # Every Latin-1 letter, alone, in a name and before a legal form.
    names += [f"{chr(c)}x{chr(c)} Inc" for c in range(0xC0, 0x100)] + [
        chr(c) for c in range(0xC0, 0x100)
    ]
    for _ in range(3000):
        parts = [rng.choice(words) for _ in range(rng.randint(1, 3))]
        parts += [rng.choice(forms) for _ in range(rng.randint(0, 2))]
        text = rng.choice(joins).join(parts)
        if rng.random() < 0.3:
            text = text.upper()
        if rng.random() < 0.2:
            text = "The " + text
        names.append(text)
    return list(dict.fromkeys(names))


def test_name_key_twin_gives_the_normalizers_key_wherever_it_answers() -> None:
    names = _name_samples()
    con = duckdb.connect()
    con.register("vals", pa.table({"raw": pa.array(names, pa.string())}))
    rows = con.execute(f"SELECT raw, key FROM ({name_keys_sql('vals')}) WHERE fast").fetchall()
    assert len(rows) > len(names) * 0.8, "the twin should settle most plain names"
    for raw, got in rows:
        assert got == company_name_key(raw), raw
    answered = {raw for raw, _ in rows}
    for raw in ("", "N/A", "Inc", "Co Inc", "Tab\tCo", "Straße GmbH", "e\u0301cole", "Ørsted"):
        assert raw not in answered, raw
    # Accented Latin letters are read without their accents, as the normalizer reads them.
    for raw in ("Zoë AG", "Müller GmbH", "ÉCOLE & Cie", "The Überbau Ltd", "Ñandú S.A."):
        assert raw in answered, raw


# Amounts as exports write them, the money twin's forms and their near misses.
AMOUNTS = [
    "10,717,000", "1,000,000", "999,999,999,999", "1,000,000,000,000,000", "0,000,000",
    "01,000,000", "1,234", "12.500", "1,000,000.5", "1,000,00", "1,23,456", "1 234 567",
    " 1,000,000", "$194.5M", "€1.1B", "$1000M", "$100K", "100K", "€9.9M", "2.5 million",
    "7 billion", "0.1 million", "$1.25M", "$1.234M", "$1,2M", "1.5 mln", "$ 1.5M", "1.5m",
    "$1.5 M", "US$1.5M", "£1.5M", "$1.5MM", "$99999.9B", "0K", "$1.5M-$2M", "-$1.5M",
    "(1,000,000)", "1,000,000 EUR", "1.2e3", "$36.9", "5000000",
    # Formatted reports: a currency before or after, the number's separators its own.
    "$12,290.74", "USD 12,290.53", "12.290,83 €", "12 290,83 EUR", "€1,290,000", "GBP 500",
    "£0.50", "$12290", "EUR 500.5", "12,290.74", "12.290,83", "290,83", "12,290.74USD",
    "CHF 1,200.50", "$ 12,290.74", "12\u00a0290,83\u00a0€", "12\u202f290,83 €", "0,5 $",
    "1.234.567,89 $", "AUD 1,234,567.00", "12,290.74 $",
    # ... and their near misses: the column decides, two currencies, other forms.
    "$12,500", "€12.500", "$12 USD", "$12,290.745", "usd 500", "$0012", "12.5", "$1,2345.00",
    "12 290.83", "12.290.83", "$-12.00", "A$1,200.00", "$12,290.74 EUR", "12,290.74 XYZ",
    "1 234 567", "$12,290.7 4", "€12.290,83.5", "$.50", "USD  12.00", "12,29",
]  # fmt: skip
FORMATTED = {
    "$12,290.74": (12290.74, "USD"), "USD 12,290.53": (12290.53, "USD"),
    "12.290,83 €": (12290.83, "EUR"), "12 290,83 EUR": (12290.83, "EUR"),
    "€1,290,000": (1290000.0, "EUR"), "GBP 500": (500.0, "GBP"),
    "12\u00a0290,83\u00a0€": (12290.83, "EUR"), "12,290.74": (12290.74, None),
}  # fmt: skip


@pytest.mark.parametrize("field", ["revenue", "amount"])
@pytest.mark.parametrize("shown", [[], ["1.234,56"], ["1,234.56"]])
def test_the_money_twin_reads_each_amount_as_the_normalizer_does_in_any_column(
    field: str, shown: list[str]
) -> None:
    spec, settings = SPECS[field], IngestSettings()
    con = duckdb.connect()
    con.register("vals", pa.table({"v": AMOUNTS}))
    twin = money_twin(money_limit(spec, settings))("vals")
    hits = con.execute(f"SELECT v, o0, o1 FROM ({twin}) WHERE hit").fetchall()
    assert {"10,717,000", "$194.5M", "€1.1B", "2.5 million", "$100K"} <= {v for v, *_ in hits}
    assert {v: (a, c) for v, a, c in hits if v in FORMATTED} == FORMATTED
    # The column's decimal separator (none, ',' or '.') changes none of the twin's amounts.
    lookup = build_lookup(spec, AMOUNTS, settings, column_values=shown).table.to_pylist()
    python = {r["raw"]: r for r in lookup}
    for raw, amount, currency in hits:
        expected = python[raw]
        assert expected["error"] is None, raw
        assert (amount, currency) == (expected[field], expected[f"{field}_currency"]), raw


@pytest.mark.parametrize(
    "column",
    [
        # Both separators shown: the twin's '.' evidence makes the column undecided.
        ["10,717,000", "12.500", "1,234", "$194.5M", "1.234,56", "500"],
        ["10,717,000", "1,234", "€1.1M", "100K", "36.9", "5000000", "12.500"],
        ["1,234", "12.500", "$5M", "150000", "$0.5M"],
        ["1.234,56", "12.500", "€2,3M", "2 million"],
        # Formatted amounts weigh in: alone, they settle what '12.500' means.
        ["$12,290.74", "USD 1,234.50", "12.500", "$1,234", "500"],
        ["12.290,83 €", "12 290,83 EUR", "12.500", "1,234"],
        ["$12,290.74", "12.290,83 €", "12.500", "1,5", "$12,500"],
        ["€1,290,000", "GBP 500", "12,290.74", "12.500"],
        AMOUNTS,
    ],
)
def test_amounts_read_by_the_money_twin_weigh_in_the_columns_decimal_separator(
    column: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, settings = SPECS["revenue"], IngestSettings()

    def lookup() -> tuple[dict[str, tuple[object, ...]], str | None, int]:
        con = duckdb.connect()
        con.register("vals", pa.table({"v": column}))
        done = normalize_distinct(con, spec, "vals", "v", "lk", settings)
        rows = {r[0]: r[1:] for r in con.execute("SELECT * FROM lk").fetchall()}
        return rows, done.lookup.note, done.in_python

    fast = lookup()

    def nothing(limit: float) -> Callable[[str], str]:
        return lambda rel: f"SELECT v, false AS hit, NULL AS o0, NULL AS o1 FROM {rel}"

    # Without the twin every such amount goes through the normalizer, as it did before it.
    monkeypatch.setattr(distinct, "money_twin", nothing)
    slow = lookup()
    assert fast[:2] == slow[:2]
    assert fast[2] < slow[2]


def test_the_separator_each_twin_amount_shows_is_the_one_the_normalizer_sees() -> None:
    # Counted in SQL, not listed: each amount the money twin read weighs in the column's
    # decimal separator with the one its number shows, as the normalizer would see it.
    spec, settings = SPECS["amount"], IngestSettings()
    con = duckdb.connect()
    con.register("vals", pa.table({"v": AMOUNTS}))
    con.execute(f"CREATE TABLE t AS {money_twin(money_limit(spec, settings))('vals')}")
    shown = distinct._shown_by_twin(con, "t")
    hits = [v for (v,) in con.execute("SELECT v FROM t WHERE hit").fetchall()]
    expected: dict[str, list[str]] = {}
    for v in sorted(hits):
        for sep in _shown_by(v):
            expected.setdefault(sep, []).append(v)
    assert {sep: (s.count, s.first) for sep, s in shown.items()} == {
        sep: (len(vs), vs[0]) for sep, vs in expected.items()
    }
    assert set(shown) == {",", "."}  # both ways among them
