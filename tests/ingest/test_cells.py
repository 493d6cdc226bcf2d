"""Column lookups: the SQL fast paths give exactly what the Python normalizers give."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from icpkit.config import IngestSettings
from icpkit.ingest.cells import build_lookup, fast_path, suffix_tables
from icpkit.ingest.fields import FIELDS

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
