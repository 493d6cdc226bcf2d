"""Small and lopsided CRMs never crash the library: every step either answers or raises an
icpkit error with a message, no NaN or infinity reaches a model object, and nothing the
command line prints reads ``nan``, ``inf`` or a traceback.

Random CRMs (1-200 closed deals, 1-20 accounts, all won, all lost, one of each, one country
or several, attributes present or absent, deals without an account, dates missing) come from
a hypothesis strategy; the cases that once crashed are plain tests below it."""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from pydantic import BaseModel
from typer.testing import CliRunner, Result

from icpkit.cli.main import app
from icpkit.demo import make_crm
from icpkit.errors import IcpkitError
from icpkit.icp.model import dump_icp, load_icp
from icpkit.workspace import Workspace

NOT_A_NUMBER = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)
COUNTRIES = ("United States", "Germany", "France", "Japan", "Brazil")
INDUSTRIES = ("Software", "Retail", "Banking", "Hospital & Health Care")
TECHS = ("HubSpot", "Salesforce", "Slack", "Zoom")


@dataclass(frozen=True)
class CrmSpec:
    """One small CRM to write: who the accounts are and how each deal ended."""

    accounts: int
    outcomes: tuple[str, ...]  # "won", "lost" or "open", one per deal
    account_of: tuple[int | None, ...]  # the deal's account, None for no account
    countries: tuple[str, ...]  # one per account
    columns: frozenset[str]  # which attribute columns the companies export has
    dated: str  # "all", "some" or "none" of the deals carry their dates, or "close_only"
    whale: bool  # one account carries most of the deals
    seed: int


@st.composite
def crm_specs(draw: st.DrawFn) -> CrmSpec:
    """Small CRMs, leaning toward the lopsided: one outcome everywhere, one deal of each,
    one country, or every deal outside the countries with a win lost."""
    accounts = draw(st.integers(1, 20))
    # Half of the CRMs are large enough for a backtest (30 closed deals before the cut-off).
    closed = draw(st.one_of(st.integers(1, 60), st.integers(60, 200)))
    shape = draw(st.sampled_from(["random", "all_won", "all_lost", "one_each", "by_country"]))
    n_countries = draw(st.integers(1, min(accounts, len(COUNTRIES))))
    countries = tuple(COUNTRIES[i % n_countries] for i in range(accounts))
    rng = random.Random(draw(st.integers(0, 2**16)))
    if shape == "one_each":
        closed = 2
    whale = draw(st.booleans())
    orphans = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))  # share of deals without an account
    account_of: list[int | None] = []
    for _ in range(closed):
        orphan = rng.random() < orphans
        account_of.append(
            None if orphan else 0 if whale and rng.random() < 0.7 else rng.randrange(accounts)
        )
    win_rate = draw(st.floats(0.0, 1.0))
    outcomes = []
    for i, account in enumerate(account_of):
        if shape == "all_won":
            won = True
        elif shape == "all_lost":
            won = False
        elif shape == "one_each":
            won = i == 0
        elif shape == "by_country":
            # Wins only in the first country: every deal elsewhere was lost.
            won = account is not None and countries[account] == COUNTRIES[0] and rng.random() < 0.5
        else:
            won = rng.random() < win_rate
        outcomes.append("won" if won else "lost")
    opened = draw(st.integers(0, 10))
    for _ in range(opened):
        account_of.append(rng.randrange(accounts))
        outcomes.append("open")
    columns = draw(
        st.frozensets(st.sampled_from(["industry", "employees", "revenue", "country", "techs"]))
    )
    return CrmSpec(
        accounts=accounts,
        outcomes=tuple(outcomes),
        account_of=tuple(account_of),
        countries=countries,
        columns=columns,
        dated="all"
        if shape == "by_country"
        else draw(st.sampled_from(["all", "all", "some", "none", "close_only"])),
        whale=whale,
        seed=rng.randrange(2**16),
    )


def write_spec(spec: CrmSpec, root: Path) -> tuple[Path, Path]:
    """The spec as a HubSpot companies and deals export under ``root``."""
    rng = random.Random(spec.seed)
    names = [
        ("industry", "Industry"),
        ("employees", "Number of Employees"),
        ("revenue", "Annual Revenue"),
        ("country", "Country/Region"),
        ("techs", "Web Technologies"),
    ]
    kept = [(key, header) for key, header in names if key in spec.columns]
    companies = [
        ",".join(["Record ID", "Company name", "Company Domain Name", *(h for _, h in kept)])
    ]
    for i in range(spec.accounts):
        employees = rng.choice([8, 40, 120, 600, 3000])
        values = {
            "industry": rng.choice(INDUSTRIES),
            "employees": str(employees),
            "revenue": str(employees * rng.choice([90_000, 150_000, 250_000])),
            "country": spec.countries[i],
            "techs": '"' + ";".join(rng.sample(TECHS, rng.randint(0, 3))) + '"',
        }
        cells = [str(1000 + i), f"Firm {i}", f"firm{i}.com", *(values[k] for k, _ in kept)]
        companies.append(",".join(cells))
    deals = [
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal Type,"
        "Associated Company IDs"
    ]
    stage = {"won": "Closed Won", "lost": "Closed Lost", "open": "Qualified To Buy"}
    for d, (outcome, account) in enumerate(zip(spec.outcomes, spec.account_of, strict=True)):
        # Deals spread over three years, so a time split has something on each side.
        start = dt.date(2022, 1, 3) + dt.timedelta(days=(d * 997) % 1000)
        dated = spec.dated in ("all", "close_only") or (spec.dated == "some" and rng.random() < 0.6)
        created = start.isoformat() if dated and spec.dated != "close_only" else ""
        end = start + dt.timedelta(days=rng.randrange(1, 120))
        closed = end.isoformat() if dated and outcome != "open" else ""
        company = "" if account is None else str(1000 + account)
        amount = "" if rng.random() < 0.1 else str(1000 + 250 * rng.randrange(40))
        deals.append(
            f"{9000 + d},Deal {d},{stage[outcome]},{amount},{closed},{created},New Business,"
            f"{company}"
        )
    root.mkdir(parents=True, exist_ok=True)
    companies_path = root / "companies.csv"
    deals_path = root / "deals.csv"
    companies_path.write_text("\n".join(companies) + "\n", encoding="utf-8")
    deals_path.write_text("\n".join(deals) + "\n", encoding="utf-8")
    return companies_path, deals_path


def finite_everywhere(value: Any, path: str = "") -> Iterator[str]:
    """Every place in a model (or a structure of them) that holds NaN or an infinity."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield f"{path} = {value}"
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from finite_everywhere(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from finite_everywhere(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from finite_everywhere(item, f"{path}[{i}]")


def icp_cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})


def assert_printed_cleanly(result: Result, command: str) -> None:
    """A command either succeeded or failed with icpkit's one-line message; no NaN, no
    infinity, no traceback in what it printed."""
    text = result.output
    assert "Traceback" not in text, f"{command}:\n{text}"
    assert not NOT_A_NUMBER.search(text), f"{command} printed a non-number:\n{text}"
    if result.exit_code != 0:
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{command} raised {result.exception!r}:\n{text}"
        )
        assert text.strip(), f"{command} failed without a word"


def note(text: str) -> None:
    """Count what happened in the statistics of a generated run (--hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(text)


def attempt(step: str, call: Any) -> Any:
    """``call()``; an icpkit error must carry a message, anything else fails the test."""
    try:
        answer = call()
    except IcpkitError as exc:
        assert str(exc).strip(), f"{step}: {type(exc).__name__} without a message"
        note(f"{step}: {type(exc).__name__}: {re.sub(r'[0-9,-]+', 'N', str(exc))[:60]}")
        return None
    note(f"{step}: answered")
    return answer


def exercise(
    companies: Path, deals: Path, root: Path, extra: list[Path] | None = None
) -> dict[str, Any]:
    """The whole path on one CRM: ingest, lift, segments, tiers, derive (library and
    command line), backtest, scoring; see the module docstring for what must hold. Returns
    each step's answer (None where it raised an icpkit error)."""
    ws = Workspace.init(root / "ws")
    result = ws.ingest([companies, deals, *(extra or [])])
    assert not result.failures or all(str(exc) for _, exc in result.failures)
    done: dict[str, Any] = {"ws": ws, "lift": attempt("lift", ws.lift)}
    for by in ("industry", "country", "employees"):
        attempt(f"segments {by}", lambda by=by: ws.segments(by))
    done["tiers"] = attempt("tiers", ws.tiers)
    w = str(ws.root)
    for args in (("lift",), ("segments", "--by", "country"), ("tiers",)):
        printed = icp_cli("analyze", *args, "-w", w)
        assert_printed_cleanly(printed, f"icp analyze {' '.join(args)}")
    derived = done["derive"] = attempt("derive", ws.derive)
    assert_printed_cleanly(icp_cli("derive", "-w", w), "icp derive")
    if derived is not None:
        icp = derived.icp
        bad = list(finite_everywhere(icp))
        assert not bad, f"non-finite numbers in the ICP: {bad}"
        assert load_icp(dump_icp(icp)) == icp, "icp.yaml does not round-trip"
        saved = Workspace.open(ws.root).current_icp()
        assert saved is not None and saved.model_dump() == icp.model_dump(), (
            "icp.yaml as written does not read back as derived"
        )
        backtest = done["backtest"] = attempt(
            "backtest", lambda: ws.backtest(n_boot=20, challengers=False)
        )
        if backtest is not None:
            bad = list(finite_everywhere(backtest.icp))
            assert not bad, f"non-finite numbers in the backtest's ICP: {bad}"
        done["score"] = attempt("score", lambda: ws.score_file(companies))
        printed = icp_cli("score", str(companies), "-w", w, "--out", str(root / "scored.csv"))
        assert_printed_cleanly(printed, "icp score")
    return done


def run_spec(spec: CrmSpec) -> None:
    root = Path(tempfile.mkdtemp(prefix="icpkit-never-crash-"))
    try:
        companies, deals = write_spec(spec, root / "in")
        exercise(companies, deals, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


COMMON = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}


@pytest.mark.slow
@settings(max_examples=10, **COMMON)
@given(crm_specs())
def test_small_random_crms_never_crash(spec: CrmSpec) -> None:
    run_spec(spec)


@pytest.mark.slow
@settings(max_examples=40, **COMMON)
@given(crm_specs())
def test_many_small_random_crms_never_crash(spec: CrmSpec) -> None:
    run_spec(spec)


# The cases that once crashed, named.

ALL_COLUMNS = frozenset(["industry", "employees", "revenue", "country", "techs"])


def wins_only_in_one_country(closed: int, accounts: int = 12) -> CrmSpec:
    """``closed`` deals over ``accounts`` in three countries; some deals in the first
    country won, every deal in the other two lost."""
    rng = random.Random(closed)
    countries = tuple(COUNTRIES[i % 3] for i in range(accounts))
    account_of = tuple(i % accounts for i in range(closed))
    outcomes = tuple(
        "won" if countries[a] == COUNTRIES[0] and rng.random() < 0.5 else "lost" for a in account_of
    )
    return CrmSpec(accounts, outcomes, account_of, countries, ALL_COLUMNS, "all", False, closed)


@pytest.mark.slow
@pytest.mark.parametrize("closed", [29, 30, 100])
def test_derive_answers_when_every_deal_outside_countries_with_a_win_was_lost(
    closed: int, tmp_path: Path
) -> None:
    spec = wins_only_in_one_country(closed)
    assert "won" in spec.outcomes and "lost" in spec.outcomes
    companies, deals = write_spec(spec, tmp_path / "in")
    done = exercise(companies, deals, tmp_path)
    assert done["derive"] is not None, "derive refused a CRM with wins and losses"
    assert done["score"] is not None


def shuffled_demo_crm(root: Path, seed: int) -> list[Path]:
    """The 600-deal demo CRM with its deal outcomes shuffled: no attribute means anything."""
    files = make_crm(600, seed, root / "data")
    with files.deals.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    stage = rows[0].index("Deal Stage")
    stages = [row[stage] for row in rows[1:]]
    random.Random(seed).shuffle(stages)
    for row, value in zip(rows[1:], stages, strict=True):
        row[stage] = value
    with files.deals.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return files.exports()


@pytest.mark.slow
def test_derive_answers_on_a_shuffled_600_deal_crm(tmp_path: Path) -> None:
    companies, deals, signals = shuffled_demo_crm(tmp_path, seed=3)
    done = exercise(companies, deals, tmp_path, [signals])
    assert done["derive"] is not None
    assert done["backtest"] is not None, "600 dated deals are enough for a backtest"


@pytest.mark.slow
def test_demo_folder_ingested_whole_then_derived(tmp_path: Path) -> None:
    """`icp demo-data --rows 20000 --seed 11 --out d; icp ingest d/*.csv`: the exports load,
    the ground-truth files beside them are skipped with a reason, and derive answers."""
    out, ws = tmp_path / "d", tmp_path / "ws"
    made = icp_cli("demo-data", "--rows", "20000", "--seed", "11", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert icp_cli("init", str(ws)).exit_code == 0
    exports = sorted(out.glob("*.csv"))
    truth = sorted((out / "truth").glob("*.csv"))
    assert exports and truth
    loaded = icp_cli("ingest", "-w", str(ws), *map(str, exports))
    assert loaded.exit_code == 0, loaded.output
    assert_printed_cleanly(loaded, "icp ingest d/*.csv")
    skipped = icp_cli("ingest", "-w", str(ws), *map(str, truth))
    assert_printed_cleanly(skipped, "icp ingest d/truth/*.csv")
    for path in truth:
        assert re.search(rf"skipped {re.escape(path.name)}: .*ground truth", skipped.output), (
            skipped.output
        )
    derived = icp_cli("derive", "-w", str(ws))
    assert derived.exit_code == 0, derived.output
    assert_printed_cleanly(derived, "icp derive")
    icp = Workspace.open(ws).current_icp()
    assert icp is not None and not list(finite_everywhere(icp))


def lift_output(spec: CrmSpec, root: Path, *args: str) -> str:
    companies, deals = write_spec(spec, root / "in")
    ws = Workspace.init(root / "ws")
    assert ws.ingest([companies, deals]).ok
    printed = icp_cli("analyze", "lift", "-w", str(ws.root), *args)
    assert printed.exit_code == 0, printed.output
    assert_printed_cleanly(printed, "icp analyze lift")
    return " ".join(printed.output.split())  # one line, whatever the terminal width


@pytest.mark.slow
def test_lift_at_exactly_30_closed_deals_says_why_no_row_has_a_verdict(tmp_path: Path) -> None:
    spec = wins_only_in_one_country(30)
    assert sum(outcome != "open" for outcome in spec.outcomes) == 30
    text = lift_output(spec, tmp_path)
    # Twelve accounts in cuts of a few deals each: no value has the evidence for a verdict,
    # and the command says so instead of printing a table header over nothing.
    assert "Won vs lost" not in text
    assert "No rows: none of the" in text and "every cut is too thin to tell" in text
    assert "--show all" in text
    everything = lift_output(spec, tmp_path / "all", "--show", "all")
    assert "Won vs lost" in everything and "not enough" in everything


def test_lift_when_every_deal_was_won_says_nothing_can_be_compared(tmp_path: Path) -> None:
    accounts = 4
    spec = CrmSpec(
        accounts,
        ("won",) * 12,
        tuple(i % accounts for i in range(12)),
        ("Germany",) * accounts,
        ALL_COLUMNS,
        "all",
        False,
        0,
    )
    text = lift_output(spec, tmp_path)
    assert "Won vs lost" not in text
    assert "No rows: every closed deal was won" in text
