"""What every ``icp`` command promises about its output (docs/json.md): errors exit non-zero in
one line, ``--format json`` is one JSON document, no ``nan`` reaches a person, tables fit 80
columns without cutting a number, and ``--help`` loads none of the heavy libraries."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.main import get_command
from typer.testing import CliRunner, Result

from helpers import DemoWorkspaces, run_query
from icpkit import __version__
from icpkit.cli.main import app, invoked
from icpkit.cli.numbers import NotComputable, json_record
from icpkit.cli.output import Column, print_table
from icpkit.cli.score import backtest_document, print_backtest
from icpkit.demo import make_universe
from icpkit.validate.backtest import BacktestResult, ModelRow
from icpkit.validate.metrics import CalibrationRow, MetricCI, TierRow
from icpkit.workspace import Workspace

DOCS = Path(__file__).parents[2] / "docs" / "json.md"
NAN = float("nan")
NOT_A_NUMBER = re.compile(r"\b(nan|inf|infinity|n/a)\b", re.IGNORECASE)


def icp(*args: str, columns: int = 80) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


def strict_json(text: str) -> Any:
    """``text`` parsed as exactly one JSON document in which NaN and Infinity are errors."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, demo_workspace: DemoWorkspaces
) -> tuple[Path, Path]:
    """A small derived demo workspace (shared: read only) and a company universe."""
    derived = demo_workspace(800, 5, derived=True)
    universe = make_universe(derived.files, 2_000, 1, tmp_path_factory.mktemp("contracts"))
    return derived.root, universe.path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four deals on three accounts: most rates, intervals and lifts cannot be computed."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "companies.csv").write_text(
        "Record ID,Company name,Company Domain Name,Number of Employees,Industry,Country/Region\n"
        "1,Acme,acme.io,50,Software,US\n2,Beta,beta.io,5000,Retail,DE\n"
        "3,Gamma,gamma.io,20,Software,US\n",
        encoding="utf-8",
    )
    (root / "deals.csv").write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Create Date,Close Date,Associated Company IDs\n"
        "10,A1,Closed Won,100,2024-01-01,2024-02-01,1\n"
        "11,B1,Closed Lost,50,2024-01-05,2024-03-01,2\n"
        "12,C1,Closed Won,70,2024-02-01,2024-04-01,3\n"
        "13,A2,Closed Won,90,2024-05-01,2024-06-01,1\n",
        encoding="utf-8",
    )
    ws = Workspace.init(root / "ws")
    assert ws.ingest([root / "companies.csv", root / "deals.csv"]).ok
    return ws.root


# --- Errors --------------------------------------------------------------------------------


def test_a_library_error_exits_1_with_one_error_line_and_no_traceback(tiny: Path) -> None:
    result = icp("backtest", "-w", str(tiny))
    assert result.exit_code == 1
    assert result.stderr.count("error:") == 1 and "closed deals" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_an_unforeseen_error_is_one_line_with_a_hint_and_a_traceback_only_under_debug(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Workspace) -> dict[str, Any]:
        raise KeyError("outcomes")

    monkeypatch.setattr(Workspace, "summary", broken)
    result = icp("summary", "-w", str(tiny))
    assert result.exit_code == 1
    assert "error: KeyError: 'outcomes'" in result.stderr
    assert "--debug" in result.stderr and "Traceback" not in result.output
    debugged = icp("--debug", "summary", "-w", str(tiny))
    assert isinstance(debugged.exception, KeyError)


def test_a_missing_file_is_an_error_not_a_traceback(tiny: Path, tmp_path: Path) -> None:
    result = icp("score", str(tmp_path / "nope.csv"), "-w", str(tiny))
    assert result.exit_code == 1 and "no such file" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("backtest", "--format", "csv"), ("summary", "--colour"), ("analyze", "nothing")],
)
def test_a_wrong_command_line_exits_2(args: tuple[str, ...]) -> None:
    assert icp(*args).exit_code == 2


def test_version_answers_with_the_package_version() -> None:
    result = icp("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"icpkit {__version__}"


# --- One JSON document ---------------------------------------------------------------------

JSON_COMMANDS = {
    ("analyze", "tiers"): [],
    ("analyze", "segments"): ["--by", "employees"],
    ("analyze", "lift"): [],
    ("analyze", "persona"): [],
    ("analyze", "clusters"): [],
    ("contacts",): ["{domain}"],
    ("quarantine",): [],
    ("backtest",): [],
    ("tam",): ["{universe}", "--widen", "employees=20-500"],
    ("lookalike",): ["{universe}", "--top", "5"],
    ("monitor",): [],
    ("review",): ["--dry-run"],
    ("enrich", "show"): ["{domain}"],
    ("enrich", "conflicts"): [],
}
# Commands whose --format picks a document kind other than JSON, and why.
NOT_JSON = {
    ("report",): "writes the report as one HTML page or as Markdown (docs/report.md)",
    ("export",): "picks what `icp export prospecting` writes: json, md or csv (docs/exports.md)",
}


def _commands_with_format() -> set[tuple[str, ...]]:
    def walk(command: Any, path: tuple[str, ...] = ()) -> Any:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, (*path, name))
        else:
            yield path, command

    return {
        path
        for path, command in walk(get_command(app))
        if any("--format" in getattr(p, "opts", ()) for p in command.params)
    }


def test_every_command_with_a_format_option_is_checked_and_documented() -> None:
    assert _commands_with_format() == set(JSON_COMMANDS) | set(NOT_JSON)
    docs = DOCS.read_text(encoding="utf-8")
    for path in JSON_COMMANDS:
        assert f"### `{' '.join(path)}`" in docs


@pytest.mark.slow
@pytest.mark.parametrize("path", list(JSON_COMMANDS), ids=" ".join)
def test_format_json_writes_exactly_one_document_with_a_schema_version(
    demo: tuple[Path, Path], path: tuple[str, ...]
) -> None:
    ws, universe = demo
    [(domain,)] = run_query(Workspace.open(ws), "SELECT min(domain) FROM accounts")
    extra = [a.format(universe=universe, domain=domain) for a in JSON_COMMANDS[path]]
    result = icp(*path, *extra, "-w", str(ws), "--format", "json")
    assert result.stdout.strip(), result.output
    doc = strict_json(result.stdout)
    # A command for schedulers (monitor, review) exits with the code its document states.
    assert result.exit_code == doc.get("exit_code", 0), result.output
    assert doc["schema_version"] == 1 and doc["command"] == " ".join(path)
    documented = DOCS.read_text(encoding="utf-8").split(f"### `{' '.join(path)}`")[1]
    documented = documented.split("###")[0]
    for key in doc:
        if key not in ("schema_version", "command") and not key.endswith("_reason"):
            assert f"`{key}`" in documented, f"{key} is not in docs/json.md"


@pytest.mark.slow
def test_the_backtest_document_holds_every_table(demo: tuple[Path, Path]) -> None:
    ws, _ = demo
    doc = strict_json(icp("backtest", "-w", str(ws), "--format", "json").stdout)
    assert [t["tier"] for t in doc["tiers"]] == ["A", "B", "C", "D"]
    assert doc["models"][0]["model"] == "icpkit scorecard"
    assert sum(b["deals"] for b in doc["calibration"]) == doc["test_deals"]
    assert 0 <= doc["brier"] <= 1


# --- Values that cannot be computed ----------------------------------------------------------


def _degenerate_backtest() -> BacktestResult:
    """A backtest where nearly everything is missing: no tier C-D wins, no probabilities."""
    unknown = MetricCI(NAN, NAN, NAN)
    return BacktestResult(
        cutoff=dt.date(2024, 1, 1),
        train_deals=40,
        test_deals=6,
        test_wins=2,
        skipped_open=0,
        icp=None,  # type: ignore[arg-type]
        models=[
            ModelRow("icpkit scorecard", MetricCI(0.5, NAN, NAN), unknown, 0.0),
            ModelRow("optbinning scorecard", unknown, unknown, 0.0, "could not fit: x", False),
        ],
        tiers=[
            TierRow("A", 4, 2, 0.5, NAN, NAN, 1.0, 1.0, NAN),
            TierRow("B", 0, 0, NAN, NAN, NAN, 0.0, 1.0, NAN),
            TierRow("C", 2, 0, 0.0, 0.0, 0.66, 0.0, 1.0, NAN),
            TierRow("D", 0, 0, NAN, NAN, NAN, 0.0, 1.0, NAN),
        ],
        tier_lift=unknown,
        top_tier_wins=1.0,
        calibration=[CalibrationRow(6, NAN, 1 / 3, 0.1, 0.7)],
        brier=NAN,
        scores=None,  # type: ignore[arg-type]
        deals=None,  # type: ignore[arg-type]
    )


def test_a_backtest_with_nothing_computable_says_why_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_backtest(_degenerate_backtest())
    text = capsys.readouterr().out
    assert not NOT_A_NUMBER.search(text), text
    assert "not computable: no test deal in tiers C-D was won" in " ".join(text.split())
    assert "Brier not computable" in " ".join(text.split())
    assert "optbinning scorecard: could not fit: x" in " ".join(text.split())


def test_a_backtest_document_has_null_and_a_reason_for_each_missing_value() -> None:
    doc = backtest_document(_degenerate_backtest())
    text = json.dumps(doc, allow_nan=False)  # raises on NaN
    assert doc["brier"] is None and doc["brier_reason"]
    assert doc["tier_lift"] is None and "tiers C-D" in doc["tier_lift_reason"]
    assert doc["models"][1]["roc_auc"] is None
    assert "could not fit" in doc["models"][1]["roc_auc_reason"]
    assert doc["calibration"][0]["mean_predicted"] is None
    assert "NaN" not in text


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "lift", "--show", "all"),
        ("analyze", "segments", "--by", "employees"),
        ("analyze", "segments", "--by", "industry"),
        ("analyze", "tiers"),
    ],
    ids=" ".join,
)
def test_a_tiny_crm_shows_no_nan_in_text_or_json(tiny: Path, args: tuple[str, ...]) -> None:
    table = icp(*args, "-w", str(tiny))
    assert table.exit_code == 0, table.output
    assert not NOT_A_NUMBER.search(table.output), table.output
    as_json = icp(*args, "-w", str(tiny), "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    strict_json(as_json.stdout)


def test_a_dash_in_a_table_is_explained_under_it() -> None:
    out = Console(width=80, file=io.StringIO())
    rows = [{"segment": "a", "rate": NotComputable("no deals in this segment")}]
    print_table(rows, title="t", target=out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "–" in text and "– not computable: no deals in this segment" in text


def test_json_records_turn_non_finite_numbers_into_null_with_a_reason() -> None:
    record = json_record({"n": 3, "rate": NAN, "ci": (0.1, float("inf"))}, {"rate": "no deals"})
    assert record == {
        "n": 3,
        "rate": None,
        "ci": [0.1, None],
        "rate_reason": "no deals",
        "ci_reason": "not computable from these data",
    }


# --- Tables at 80 columns -----------------------------------------------------------------


def test_numbers_are_never_cut_and_dropped_columns_are_named() -> None:
    rows = [
        {
            "name": f"Company number {i} with a rather long name",
            "lift": f"{1 + i / 7:.2f} ({0.5 + i / 9:.2f}-{2 + i / 3:.2f})",
            "win rate": f"{i * 7 % 100}% ({i}%-{i * 9 % 100}%)",
            "share": f"{i * 3}%/{i * 5}%",
            "reason": "a long explanation that wraps over several lines " * 2,
            "accounts": f"{i * 123_457:,}",
        }
        for i in range(1, 8)
    ]
    columns = [
        Column("name"),
        Column("lift", "lift (95% CI)"),
        Column("win rate", "win rate (95% CI)"),
        Column("share", "won/lost share", priority=2),
        Column("reason", priority=3),
        Column("accounts", priority=1),
    ]
    for width in (80, 60):
        out = Console(width=width, file=io.StringIO())
        print_table(rows, columns, target=out)
        text = out.file.getvalue()  # type: ignore[attr-defined]
        table = text[: text.index("└")]
        assert max(len(line) for line in table.splitlines()) <= width
        kept = [c for c in columns if c.title.split()[0] in table]
        for row in rows:
            for c in kept:
                if c.key in ("lift", "win rate", "share", "accounts"):
                    assert row[c.key] in table, (width, row[c.key])
        # Left out least important first, and only columns that may be left out.
        left_out = sorted((c for c in columns if c not in kept), key=lambda c: -c.priority)
        assert left_out, "the test rows must not fit"
        assert all(c.priority > 0 for c in left_out)
        names = ", ".join(c.title for c in left_out)
        assert f"left out to fit {width} columns: {names}" in " ".join(text.split())


@pytest.mark.slow
def test_the_lift_table_at_80_columns_shows_every_interval_whole(
    demo: tuple[Path, Path],
) -> None:
    ws, _ = demo
    doc = strict_json(icp("analyze", "lift", "-w", str(ws), "--format", "json").stdout)
    table = icp("analyze", "lift", "-w", str(ws), "--show", "all", columns=80)
    assert table.exit_code == 0
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    shown = 0
    for row in doc["rows"]:
        if row["lift"] is None or None in row["lift_ci"]:
            continue
        low, high = row["lift_ci"]
        assert f"{row['lift']:.2f} ({low:.2f}-{high:.2f})" in table.stdout
        shown += 1
    assert shown > 10


# --- Start-up and progress ----------------------------------------------------------------

HEAVY = ("duckdb", "numpy", "scipy", "sklearn", "pyarrow", "pandas")


def test_help_and_version_load_none_of_the_heavy_libraries() -> None:
    script = f"""
import json, sys
from typer.testing import CliRunner
from icpkit.cli.main import app
for args in (["--version"], ["--help"], ["analyze", "--help"], ["backtest", "--help"],
             ["score", "--help"], ["tam", "--help"], ["ingest", "--help"]):
    assert CliRunner().invoke(app, args).exit_code == 0, args
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_summary_loads_neither_the_icps_wording_nor_the_crms_field_tables(tiny: Path) -> None:
    script = f"""
import json, sys
sys.argv = ["icp", "summary", "-w", {str(tiny)!r}]
from icpkit.cli.main import app
try:
    app()
except SystemExit as done:
    assert done.code == 0, done.code
print(json.dumps(sorted(m for m in sys.modules if m.startswith("icpkit"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "icpkit.workspace" in loaded and "icpkit.config" in loaded
    unused = (
        "icpkit.icp.describe",
        "icpkit.icp.diff",
        "icpkit.icp.versions",
        "icpkit.ingest.fields",
    )
    assert [m for m in unused if m in loaded] == []


def _names(group: Any) -> list[str]:
    return sorted(group.commands)


def test_a_command_line_builds_only_the_command_it_names_with_the_same_help() -> None:
    whole = get_command(app)
    for name in _names(whole):
        named = invoked(app, ["--debug", name, "--help"])
        assert _names(get_command(named)) == [name]
        runner = CliRunner()
        alone = runner.invoke(named, [name, "--help"], env={"COLUMNS": "80"})
        assert alone.exit_code == 0 and alone.output == icp(name, "--help").output, name
    assert _names(get_command(invoked(app, ["analyze", "lift"]))) == ["analyze"]
    assert _names(get_command(invoked(app, ["analyze", "lift"])).commands["analyze"]) == (
        _names(whole.commands["analyze"])
    )


@pytest.mark.parametrize("argv", [[], ["--help"], ["summry"], ["--debug"], ["--version", "x"]])
def test_help_a_misspelling_or_no_command_gets_the_whole_application(argv: list[str]) -> None:
    assert invoked(app, argv) is app


def test_the_program_runs_the_command_it_built(tiny: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["icp", "summary", "-w", str(tiny)])
    with pytest.raises(SystemExit) as done:
        app()
    assert done.value.code == 0 and "deals" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["icp", "--version"])
    assert _names(get_command(invoked(app, sys.argv[1:]))) == []
    with pytest.raises(SystemExit) as done:
        app()
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"icpkit {__version__}"


@pytest.mark.slow
def test_the_score_progress_moves_while_the_query_runs() -> None:
    import duckdb

    from icpkit.engines.prospects import _watch

    seen: list[float] = []
    lock = threading.Lock()

    def progress(done: float) -> None:
        with lock:
            seen.append(done)

    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t AS SELECT random() AS r FROM range(30000000)")
    with _watch(con, progress):
        con.execute("SELECT count(DISTINCT r), sum(r) FROM t, range(2)").fetchall()
    assert any(0 < value <= 100 for value in seen), seen
