"""``icp export prospecting``: the ICP as filters for list-building tools, in JSON, Markdown
and a flat CSV: what the ICP says and nothing else, with the version it came from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

# Every test here reads the derived demo workspace of 4,000 deals (built in ~30 s).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def filters(accounts: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("prospecting")
    result = accounts.ws.export("prospecting", out)
    assert result.files == (out / "prospecting.json",)
    loaded: dict[str, Any] = json.loads(result.files[0].read_text(encoding="utf-8"))
    return loaded


def test_filters_hold_the_icps_industries_sizes_tools_and_exclusions(
    accounts: Any, filters: dict[str, Any]
) -> None:
    icp = accounts.icp
    include, exclude = filters["include"], filters["exclude"]
    wanted = {
        v
        for r in icp.fit
        if r.attribute == "industry" and r.direction == "positive"
        for v in r.values or []
    }
    assert {v for i in include["industries"] for v in i["values"]} == wanted == {"Software"}
    assert [(e["min"], e["max"]) for e in include["employees"]] == [(51, 200)]
    assert {v for t in include["technologies"] for v in t["values"]} == {"HubSpot"}
    excluded = {v for i in exclude["industries"] for v in i["values"]}
    assert excluded == {"Public Administration", "Retail Trade"}
    # Revenue labels come with the dollars they span: under $1M is up to 1,000,000.
    (revenue,) = exclude["revenue"]
    assert revenue["ranges"] == [{"label": "<$1M", "above": None, "up_to": 1_000_000}]
    # The boundary: at least 11 employees.
    assert [(b.get("min"), b.get("max")) for b in filters["must"]["employees"]] == [(11, None)]


def test_the_json_is_a_command_document_that_reads_back(accounts: Any, tmp_path: Path) -> None:
    from icpkit.output.documents import read_document

    path = accounts.ws.export("prospecting", tmp_path).files[0]
    doc = read_document(path, command="export prospecting")
    assert doc["schema_version"] == 1 and doc["icp_version"] == accounts.icp.version


def test_industries_carry_their_naics_and_sic_codes(filters: dict[str, Any]) -> None:
    (software,) = filters["include"]["industries"]
    codes = software["codes"]["Software"]
    assert "5132" in codes["naics"]  # NAICS 2022: software publishers
    assert "7372" in codes["sic"]  # SIC: prepackaged software


def test_intent_signals_keep_their_windows(accounts: Any, filters: dict[str, Any]) -> None:
    got = {(s["signal"], tuple(s["details"]), tuple(s["window_days"])) for s in filters["intent"]}
    want = {(s.signal, tuple(s.detail_in), tuple(s.window_days)) for s in accounts.icp.intent}
    assert got == want and got


def test_unknown_values_are_no_filter(accounts: Any, filters: dict[str, Any]) -> None:
    ids = json.dumps(filters)
    missing = [r.id for r in accounts.icp.fit if r.missing]
    assert missing, "the demo ICP has Missing bins"
    assert not [m for m in missing if f'"{m}"' in ids]


def test_filters_name_the_icp_version_in_every_format(accounts: Any, tmp_path: Path) -> None:
    version = accounts.icp.version
    md = accounts.ws.export("prospecting", tmp_path, fmt="md").files[0]
    text = md.read_text(encoding="utf-8")
    assert text.startswith(f"# Prospecting filters (ICP version {version}, made ")
    assert "Software (NAICS" in text and "## Leave out" in text and "## Intent signals" in text
    flat = accounts.ws.export("prospecting", tmp_path, fmt="csv").files[0]
    with flat.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["icp_version"] for r in rows} == {str(version)}
    by_value = {(r["filter"], r["value"]): r for r in rows}
    assert "7372" in by_value["include", "Software"]["sic"].split()
    assert ("exclude", "Retail Trade") in by_value
    assert {r["filter"] for r in rows} == {"include", "avoid", "exclude", "must", "intent"}


def test_an_unknown_format_is_refused(accounts: Any, tmp_path: Path) -> None:
    from icpkit.export import ExportError

    with pytest.raises(ExportError, match="--format 'xml': one of json, md, csv"):
        accounts.ws.export("prospecting", tmp_path, fmt="xml")
