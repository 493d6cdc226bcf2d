"""Column lookups and name keys: the SQL twins give exactly what the Python normalizers give."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from helpers import cases
from icpkit.config import IngestSettings
from icpkit.ingest.cells import build_lookup, fast_path, name_keys_sql, suffix_tables
from icpkit.ingest.fields import FIELDS
from icpkit.ingest.normalize.names import company_name_key

SPECS = {s.name: s for s in FIELDS["companies"]} | {s.name: s for s in FIELDS["deals"]}

CASES = {
    "amount": ["12500", "12500.50", "0", "007", "99999999999", "1,200", "$5", "-3", "1e3"],
    "revenue": ["5000000", "5000000.25", "$5M", "5,000,000", "1.2 billion"],
    "employees": ["1", "137", "0", "3000000", "3000001", "51-200", "1,200", "12.0"],
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
    names += ["Zoë AG", "Müller GmbH", "Tab\tCo", "Acme’s Inc"]
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
    for raw in ("", "N/A", "Inc", "Co Inc", "Zoë AG", "Tab\tCo"):
        assert raw not in answered, raw
