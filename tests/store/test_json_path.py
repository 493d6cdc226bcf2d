"""JSON paths of export columns: any header name reads back its own value."""

from __future__ import annotations

import json

import duckdb
import pytest

from icpkit.store.db import json_path


@pytest.mark.parametrize(
    "key", ["Phone", "Time Zone", "a.b", 'Size "approx"', "back\\slash", "$weird", "Size 'x'"]
)
def test_json_path_reads_the_value_of_any_header(key: str) -> None:
    doc = json.dumps({key: "wanted", "other": "no"})
    con = duckdb.connect()
    got = con.execute("SELECT json_extract_string(?, ?)", [doc, json_path(key)]).fetchone()
    assert got == ("wanted",)
