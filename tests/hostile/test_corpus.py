"""The hostile corpus: every malformed file is loaded, quarantined or refused as its
expectation in ``corpus/expected.json`` says, no row goes unaccounted for (rows read =
loaded + quarantined, and loaded + quarantined = the rows the file was built with), and
the command line answers with a message and an exit code, never a traceback."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.workspace import Workspace

CORPUS = Path(__file__).parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
# Words that show a crash reached the person instead of a message.
CRASH_SIGNS = ("Traceback", "This is a bug in icpkit")


def within(value: int, expected: int | list[int]) -> bool:
    """An exact count, or an inclusive [low, high] range where the file allows either."""
    if isinstance(expected, list):
        return expected[0] <= value <= expected[1]
    return value == expected


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback: {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def test_the_corpus_holds_every_kind_of_hostile_file() -> None:
    assert len(CASES) >= 57
    assert all((CORPUS / c["file"]).is_file() for c in CASES)
    kinds = {c["kind"] for c in CASES}
    for kind in (
        "unbalanced quote",
        "ragged rows",
        "encoding",
        "BOM",
        "NUL bytes",
        "not a table",
        "workbook",
        "parquet",
        "wide file",
        "file name",
    ):
        assert kind in kinds


@pytest.mark.slow
def test_the_corpus_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_corpus", CORPUS.parent / "build_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.build(tmp_path)
    assert table == CASES
    for c in CASES:
        built = hashlib.sha256((tmp_path / c["file"]).read_bytes()).hexdigest()
        committed = hashlib.sha256((CORPUS / c["file"]).read_bytes()).hexdigest()
        assert built == committed, c["file"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["file"], marks=[pytest.mark.slow] if c.get("slow") else [])
        for c in CASES
    ],
)
def test_hostile_file_is_accounted_for_row_by_row(case: dict[str, Any], tmp_path: Path) -> None:
    path = CORPUS / case["file"]

    # The library: counts from the file's report.
    ws = Workspace.init(tmp_path / "lib")
    result = ws.ingest([path])
    failures = [str(err) for _p, err in result.failures]
    for message in failures:
        assert "This is a bug" not in message, message
    if case.get("refused"):
        refused = bool(failures) or all(r.skipped for r in result.files)
        assert refused, f"{case['file']} was loaded, expected it refused"
    else:
        assert not failures, failures
        (report,) = result.files
        assert not report.skipped, f"{case['file']} was not loaded: {report.skipped}"
        assert report.rows_read == report.rows_loaded + report.rows_quarantined
        accounted = report.rows_loaded + report.rows_quarantined
        assert within(accounted, case["rows"]), (
            f"{case['file']}: {case['rows']} rows written, {report.rows_loaded} loaded + "
            f"{report.rows_quarantined} quarantined"
        )
        if "loaded" in case:
            assert within(report.rows_loaded, case["loaded"]), report.rows_loaded
        if "quarantined" in case:
            assert within(report.rows_quarantined, case["quarantined"]), report.rows_quarantined
        if "blank" in case:
            assert within(report.blank_records, case["blank"]), report.blank_records
        reasons = " | ".join(p.reason for p in report.problems)
        for fragment in case.get("reasons", []):
            assert fragment in reasons, reasons
        con = duckdb.connect(str(ws.store_path), read_only=True)
        try:
            for sql, expected in case.get("checks", []):
                assert con.execute(sql).fetchone()[0] == expected, sql  # type: ignore[index]
        finally:
            con.close()

    # The command line: an exit code and a message, never a traceback.
    Workspace.init(tmp_path / "cli")
    code, output = run_cli(["ingest", str(path), "--workspace", str(tmp_path / "cli")])
    expected_exit = case["exit"]
    assert code in (expected_exit if isinstance(expected_exit, list) else [expected_exit]), (
        f"exit {code}: {output[-2000:]}"
    )
    for sign in CRASH_SIGNS:
        assert sign not in output, output[-2000:]
    if case.get("refused"):
        assert Path(case["file"]).name in output, "the message does not name the file"
    for fragment in case.get("message", []):
        assert fragment.lower() in output.lower(), output[-2000:]


# Well-formed files whose record count Python's csv module can confirm: (encoding,
# delimiter, lines before the header). Blank records (every cell empty) are not rows.
PYTHON_CSV = {
    "quote_inside_unquoted_cell_is_text.csv": ("utf-8", ",", 0),
    "ragged_too_many_fields.csv": ("utf-8", ",", 0),
    "ragged_too_few_fields.csv": ("utf-8", ",", 0),
    "repeated_delimiters_row.csv": ("utf-8", ",", 0),
    "blank_lines.csv": ("utf-8", ",", 0),
    "blank_lines_crlf.csv": ("utf-8", ",", 0),
    "only_header.csv": ("utf-8", ",", 0),
    "duplicate_headers.csv": ("utf-8", ",", 0),
    "no_final_newline.csv": ("utf-8", ",", 0),
    "bom_utf8.csv": ("utf-8-sig", ",", 0),
    "bom_utf16le.csv": ("utf-16", ",", 0),
    "bom_utf16be.csv": ("utf-16", ",", 0),
    "utf16le_tab.csv": ("utf-16", "\t", 0),
    "line_ends_cr_only.csv": ("utf-8", ",", 0),
    "line_ends_mixed.csv": ("utf-8", ",", 0),
    "enc_cp1252.csv": ("cp1252", ",", 0),
    "enc_mac_roman_cr.csv": ("mac_roman", ",", 0),
    "enc_latin1.csv": ("latin-1", ",", 0),
    "wide_2000_columns.csv": ("utf-8", ",", 0),
    "cell_of_one_megabyte.csv": ("utf-8", ",", 0),
    "identical_rows_10000.csv": ("utf-8", ",", 0),
    "delimiter_changes_mid_file.csv": ("utf-8", ",", 0),
    "excel_sep_line.csv": ("utf-8", ";", 1),
    "bom_and_sep_line.csv": ("utf-8-sig", ";", 1),
    "semicolon_delimited.csv": ("utf-8", ";", 0),
    "tab_delimited.csv": ("utf-8", "\t", 0),
    "pipe_delimited.csv": ("utf-8", "|", 0),
    "pipe_delimited_commas_in_names.csv": ("utf-8", "|", 0),
    "semicolon_inside_name.csv": ("utf-8", ",", 0),
    "semicolon_inside_name_semicolon_file.csv": ("utf-8", ";", 0),
    "euro_thousands.csv": ("utf-8", ",", 0),
    "thousands_separators.csv": ("utf-8", ",", 0),
    "dotted_dates.csv": ("utf-8", ",", 0),
    "every_cell_quoted.csv": ("utf-8", ",", 0),
    "formula_injection_cells.csv": ("utf-8", ",", 0),
    "quoted_cells_holding_pipes_and_line_breaks.csv": ("utf-8", ",", 0),
    "one_record_quoted_cell_holding_pipes.csv": ("utf-8", ",", 0),
    "cell_of_many_escaped_quotes.csv": ("utf-8", ",", 0),
    "glob/deals[1].csv": ("utf-8", ",", 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PYTHON_CSV))
def test_expected_rows_agree_with_pythons_csv_reading(name: str) -> None:
    import csv
    import io

    encoding, sep, above = PYTHON_CSV[name]
    (case,) = [c for c in CASES if c["file"] == name]
    text = (CORPUS / name).read_bytes().decode(encoding)
    csv.field_size_limit(1 << 24)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))[above + 1 :]
    filled = [r for r in records if any(cell.strip() for cell in r)]
    assert len(filled) == case["rows"]
    assert len(records) - len(filled) == case.get("blank", 0)
