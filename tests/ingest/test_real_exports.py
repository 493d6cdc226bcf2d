"""Real-layout CRM exports ingest with no configuration and give the counts their records hold.

Each folder of tests/fixtures/crm is one export set written the way its vendor writes it;
its ``expected.json`` holds the counts computed from the generated records (by
tests/fixtures/crm/build.py, without icpkit), which a correct ingest must reproduce.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from icpkit.workspace import IngestResult, Workspace

CRM = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
SETS = sorted(p.name for p in CRM.iterdir() if (p / "expected.json").is_file())
# The sets the quick loop (make test-fast) ingests: one with skipped tables, one CRM's deals
# and one company universe; the others run with the slow tests.
QUICK = {"analyst", "hubspot", "company_db_2013"}


def quick_or_slow(names: list[str]) -> list[Any]:
    """``names`` as parameters, each set outside QUICK marked slow."""
    return [pytest.param(n, marks=() if n in QUICK else pytest.mark.slow) for n in names]


NOT_EXPORTS = {"expected.json", "build.py", "README.md"}


def expected_of(name: str) -> dict[str, Any]:
    return json.loads((CRM / name / "expected.json").read_text(encoding="utf-8"))


def export_files(name: str) -> list[Path]:
    """Every file of the set, in the order a shell glob gives them."""
    return sorted(p for p in (CRM / name).iterdir() if p.is_file() and p.name not in NOT_EXPORTS)


@dataclass
class Ingested:
    """One export set ingested into a fresh workspace."""

    ws: Workspace
    result: IngestResult
    expected: dict[str, Any]

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.ws.store_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def failures(self) -> str:
        return "; ".join(f"{p.name}: {e}" for p, e in self.result.failures)


_CACHE: dict[str, Ingested] = {}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each set ingested once for the module, into a workspace of its own."""

    def get(name: str) -> Ingested:
        if name not in _CACHE:
            ws = Workspace.init(tmp_path_factory.mktemp(name) / "ws")
            result = ws.ingest(export_files(name))
            _CACHE[name] = Ingested(ws, result, expected_of(name))
        return _CACHE[name]

    yield get
    _CACHE.clear()


@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_export_set_loads_every_file_without_configuration(name: str, ingested: Any) -> None:
    got = ingested(name)
    assert got.result.ok, f"{name}: {got.failures()}"


@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_each_file_is_read_as_its_entity_with_every_record(name: str, ingested: Any) -> None:
    got = ingested(name)
    imports = {
        file: (entity, rows_read, rows_loaded)
        for file, entity, rows_read, rows_loaded in got.rows(
            "SELECT file_name, entity, rows_read, rows_loaded FROM imports"
        )
    }
    wrong = []
    for file, want in got.expected["files"].items():
        if file not in imports:
            wrong.append(f"{file}: not loaded")
            continue
        entity, rows_read, rows_loaded = imports[file]
        if entity != want["entity"]:
            wrong.append(f"{file}: read as {entity}, not {want['entity']}")
        if rows_read != want["rows"] or rows_loaded != want["rows"]:
            wrong.append(
                f"{file}: read {rows_read} and loaded {rows_loaded} records of {want['rows']}"
            )
    assert not wrong, (
        f"{name}: "
        + "; ".join(wrong)
        + (f" (failures: {got.failures()})" if got.result.failures else "")
    )


SKIPPING = [n for n in SETS if expected_of(n)["skipped"]]


@pytest.mark.parametrize("name", quick_or_slow(SKIPPING))
def test_tables_that_are_not_crm_records_are_skipped_with_a_reason(
    name: str, ingested: Any
) -> None:
    got = ingested(name)
    skipped = got.expected["skipped"]
    loaded = {f for (f,) in got.rows("SELECT file_name FROM imports WHERE rows_loaded > 0")}
    reports = {r.path.name: r for r in got.result.files}
    failed = {p.name: str(e) for p, e in got.result.failures}
    wrong = []
    for file in skipped:
        if file in loaded:
            wrong.append(f"{file}: loaded as records")
        elif file in failed:
            wrong.append(f"{file}: an error instead of a skip ({failed[file]})")
        elif file not in reports or not reports[file].skipped:
            wrong.append(f"{file}: not reported as skipped")
    assert not wrong, f"{name}: " + "; ".join(wrong)


@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_every_company_is_one_account(name: str, ingested: Any) -> None:
    got = ingested(name)
    accounts = got.ws.summary()["counts"]["accounts"]
    assert accounts == got.expected["accounts"], (
        f"{name}: {accounts} accounts, expected {got.expected['accounts']}"
    )


DEAL_SETS = [n for n in SETS if expected_of(n)["kind"] == "deals"]


@pytest.mark.parametrize("name", quick_or_slow(DEAL_SETS))
def test_deal_outcomes_are_read_from_the_export(name: str, ingested: Any) -> None:
    got = ingested(name)
    outcomes = got.ws.summary()["outcomes"]
    want = got.expected["deals"]
    found = {k: int(outcomes.get(k, 0)) for k in ("won", "lost", "open")}
    assert found == {k: want[k] for k in ("won", "lost", "open")}, (
        f"{name}: won/lost/open {found}, expected {want}"
    )


@pytest.mark.parametrize("name", quick_or_slow(DEAL_SETS))
def test_deals_link_to_their_accounts(name: str, ingested: Any) -> None:
    got = ingested(name)
    linked = got.ws.summary()["deals_linked"]
    want = got.expected["deals"]["linked"]
    assert linked == want, f"{name}: {linked} deals linked to an account, expected {want}"


@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_clean_export_quarantines_nothing(name: str, ingested: Any) -> None:
    got = ingested(name)
    reasons = got.rows(
        'SELECT file, "column", reason, count(*) AS n, min(raw_value) FROM quarantine '
        "GROUP BY ALL ORDER BY n DESC LIMIT 5"
    )
    assert not reasons, f"{name}: " + "; ".join(
        f"{file} [{column}] {reason} x{n} (e.g. {raw!r})"
        for file, column, reason, n, raw in reasons
    )


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, float) and a is not None:
        return math.isclose(float(a), b, rel_tol=1e-6)
    return bool(a == b)


@pytest.mark.parametrize("name", quick_or_slow([n for n in SETS if expected_of(n)["checks"]]))
def test_named_accounts_keep_their_values(name: str, ingested: Any) -> None:
    got = ingested(name)
    wrong = []
    for check in got.expected["checks"]:
        if "distinct_accounts_of" in check:
            names = check["distinct_accounts_of"]
            keys = got.rows(
                "SELECT DISTINCT account_key FROM accounts WHERE list_contains(?, name)", [names]
            )
            if len(keys) != check["count"]:
                wrong.append(f"{names}: {len(keys)} accounts, expected {check['count']}")
            continue
        account = check["account_name"]
        rows = got.rows(
            "SELECT name, country, employees, revenue, industry_raw, employees_raw "
            "FROM accounts WHERE name = ?",
            [account],
        )
        if not rows:
            similar = got.rows(
                "SELECT name FROM accounts ORDER BY jaro_winkler_similarity(name, ?) DESC LIMIT 1",
                [account],
            )
            wrong.append(
                f"{account!r}: no such account"
                + (f" (closest: {similar[0][0]!r})" if similar else "")
            )
            continue
        _, country, employees, revenue, industry_raw, employees_raw = rows[0]
        values = {
            "country": country,
            "employees": employees,
            "revenue": revenue,
            "industry_raw": industry_raw,
            "employees_raw": employees_raw,
        }
        for key, want in check.items():
            if key in values and not _close(values[key], want):
                wrong.append(f"{account!r}: {key} {values[key]!r}, expected {want!r}")
    assert not wrong, f"{name}: " + "; ".join(wrong)


@pytest.mark.parametrize(
    "name", quick_or_slow([n for n in SETS if "country_counts" in expected_of(n)])
)
def test_country_codes_are_read_as_countries(name: str, ingested: Any) -> None:
    got = ingested(name)
    for iso, want in got.expected["country_counts"].items():
        [(n,)] = got.rows("SELECT count(*) FROM accounts WHERE country = ?", [iso])
        assert n == want, f"{name}: {n} accounts in {iso}, expected {want}"


@pytest.mark.slow
@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_ingesting_the_same_export_again_changes_no_count(name: str, ingested: Any) -> None:
    got = ingested(name)
    before = got.ws.summary()
    again = got.ws.ingest(export_files(name))
    after = got.ws.summary()
    assert again.ok == got.result.ok, f"{name}: {again.failures}"
    assert after["counts"] == before["counts"], f"{name}: {before['counts']} -> {after['counts']}"
    assert after["outcomes"] == before["outcomes"]


@pytest.mark.slow
@pytest.mark.parametrize("name", quick_or_slow(SETS))
def test_dry_run_of_an_export_set_reads_it_and_loads_nothing(name: str, tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    result = ws.ingest(export_files(name), dry_run=True)
    failures = "; ".join(f"{p.name}: {e}" for p, e in result.failures)
    assert result.ok, f"{name}: {failures}"
    counts = ws.summary()["counts"]
    assert counts["accounts"] == counts["deals"] == counts["imports"] == 0, f"{name}: {counts}"
