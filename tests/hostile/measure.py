"""Run the hostile corpus and print the reliability table of docs/reliability.md:
per kind of file, the cases tried, those that ended as expected, rows written, loaded,
quarantined and skipped, rows lost without a word, files whose values were changed
(a check on the stored values failed), and tracebacks.

``python tests/hostile/measure.py`` (about a minute). A row is lost when the file was
loaded but its rows loaded + quarantined fall short of the rows it was built with; a file
refused with a message loses nothing silently (the person is told)."""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.workspace import Workspace

CORPUS = Path(__file__).parent / "corpus"


def low(value: int | list[int]) -> int:
    return value[0] if isinstance(value, list) else value


def within(value: int, expected: int | list[int]) -> bool:
    if isinstance(expected, list):
        return expected[0] <= value <= expected[1]
    return value == expected


def main() -> None:
    cases = json.loads((CORPUS / "expected.json").read_text())
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[str] = []
    for case in cases:
        row = table[case["kind"]]
        row["cases"] += 1
        path = CORPUS / case["file"]
        ok = True
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.init(Path(tmp) / "lib")
            result = ws.ingest([path])
            report = result.files[0] if result.files else None
            refused = bool(result.failures) or bool(report and report.skipped)
            if refused:
                row["refused"] += 1
                ok = bool(case.get("refused"))
                why = str(result.failures[0][1]) if result.failures else report.skipped  # type: ignore[union-attr]
                if "This is a bug" in str(why):
                    row["tracebacks"] += 1
                    ok = False
            elif report is not None:
                written = low(case.get("rows", 0))
                accounted = report.rows_loaded + report.rows_quarantined
                row["written"] += written
                row["loaded"] += report.rows_loaded
                row["quarantined"] += report.rows_quarantined
                row["skipped"] += report.blank_records
                row["lost"] += max(0, written - accounted)
                ok = not case.get("refused") and within(accounted, case.get("rows", 0))
                con = duckdb.connect(str(ws.store_path), read_only=True)
                try:
                    for sql, expected in case.get("checks", []):
                        if con.execute(sql).fetchone()[0] != expected:  # type: ignore[index]
                            row["values changed"] += 1
                            ok = False
                finally:
                    con.close()
                for key in ("loaded", "quarantined", "blank"):
                    actual = {
                        "blank": report.blank_records,
                        "loaded": report.rows_loaded,
                        "quarantined": report.rows_quarantined,
                    }[key]
                    if key in case and not within(actual, case[key]):
                        ok = False
            Workspace.init(Path(tmp) / "cli")
            run = CliRunner().invoke(app, ["ingest", str(path), "--workspace", f"{tmp}/cli"])
            exits = case["exit"] if isinstance(case["exit"], list) else [case["exit"]]
            crashed = "Traceback" in run.output or (
                run.exception is not None and not isinstance(run.exception, SystemExit)
            )
            row["tracebacks"] += int(crashed)
            ok = ok and not crashed and run.exit_code in exits
        row["as expected"] += int(ok)
        if not ok:
            misses.append(case["file"])
    cols = [
        "cases",
        "as expected",
        "written",
        "loaded",
        "quarantined",
        "skipped",
        "refused",
        "lost",
        "values changed",
        "tracebacks",
    ]
    print("| kind | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    total: dict[str, int] = defaultdict(int)
    for kind in sorted(table):
        print(f"| {kind} | " + " | ".join(f"{table[kind][c]:,}" for c in cols) + " |")
        for c in cols:
            total[c] += table[kind][c]
    print("| **all** | " + " | ".join(f"**{total[c]:,}**" for c in cols) + " |")
    print("\nnot as expected: " + (", ".join(misses) or "none"), file=sys.stderr)


if __name__ == "__main__":
    main()
