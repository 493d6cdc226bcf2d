"""``icp tam`` and ``icp lookalike``: the ICP put to work on a company universe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from icpkit.cli.common import (
    WorkspaceOption,
    clean_errors,
    console,
    err_console,
    fail,
    open_workspace,
    parse_day,
)
from icpkit.cli.numbers import NotComputable, finite
from icpkit.cli.output import Column, FormatOption, OutOption, emit

if TYPE_CHECKING:
    from icpkit.analysis.stats import RateEstimate
    from icpkit.operate.tam import Range, TamCount, TamResult

UniverseArgument = Annotated[
    Path,
    typer.Argument(
        help="Company universe: a company export (CSV in any encoding, XLSX, Parquet), read "
        "like `icp ingest` reads one, or a file in the scorer's input layout (account_key, "
        "employees, revenue, industry, country, technologies, ...)."
    ),
]
_WIDEN = re.compile(r"^([a-z_]+)=([0-9][0-9.,_eE+]*)-([0-9][0-9.,_eE+]*)$")
NO_RULES = "the ICP has no rules, so nothing tells the TAM apart from the market"
NO_DEALS = "no closed deals in these ranges"


def tam(
    universe: UniverseArgument,
    widen: Annotated[
        list[str] | None,
        typer.Option(
            "--widen",
            help="What-if: the profile's range on a numeric attribute replaced, e.g. "
            "employees=20-500 (repeatable).",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score intent as of this day (YYYY-MM-DD).")
    ] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Size the TAM of a company universe with the ICP, and what widening a range costs."""
    ws = open_workspace(workspace)
    ranges = dict(_widening(text) for text in widen or [])
    day = parse_day(as_of)
    with clean_errors():
        result = ws.tam(universe, as_of=day, widen=ranges or None)
    if fmt != "table":
        emit(
            tam_rows(result),
            fmt,
            out=out,
            why={"current": NO_DEALS, "widened": NO_DEALS},
            command="tam",
            universe=str(universe),
            as_of=result.as_of.isoformat(),
            profile=list(result.current.profile),
            widened_profile=None if result.widened is None else list(result.widened.profile),
            discriminates=result.discriminates,
            warnings=list(result.warnings),
        )
        return
    _print_profile(result)
    emit(
        tam_rows(result, readable=True),
        fmt,
        title=f"TAM of {universe.name} as of {result.as_of}",
        columns=[Column("measure"), Column("current")]
        + ([Column("widened")] if result.widened is not None else []),
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def lookalike(
    universe: UniverseArgument,
    top: Annotated[int, typer.Option(min=1, help="Companies to list.")] = 50,
    k: Annotated[int, typer.Option(min=1, help="Nearest Tier 1 customers each is judged by.")] = 5,
    fmt: FormatOption = "table",
    out: OutOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """The universe's companies most like the Tier 1 customers, with who and what they share."""
    from icpkit.operate.lookalike import NothingSeparates

    ws = open_workspace(workspace)
    notes: list[str] = []
    with clean_errors():
        try:
            hits = ws.lookalikes(universe, top=top, k=k, warnings=notes)
        except NothingSeparates as exc:
            # An answer, not a failure: nothing to rank by; say so and list nobody.
            (console if fmt == "table" else err_console).print(f"[yellow]warning:[/] {exc}")
            if fmt == "table":
                return
            hits = []
    rows: list[dict[str, Any]] = [
        {
            "rank": i + 1,
            "account_key": h.account_key,
            "name": h.name,
            "similarity": h.similarity if fmt != "table" else f"{h.similarity:.3f}",
            "shared": ", ".join(h.shared),
            "like": "; ".join(
                f"{n.name or n.account_key} ({n.similarity:.2f})" for n in h.neighbours
            ),
        }
        for i, h in enumerate(hits)
    ]
    emit(
        rows,
        fmt,
        title=f"{len(rows)} companies most like the Tier 1 customers (mean of {k} nearest)",
        columns=[
            Column("rank"),
            Column("name"),
            Column("account_key", priority=2),
            Column("similarity"),
            Column("shared", priority=1),
            Column("like", priority=3),
        ],
        out=out,
        command="lookalike",
        universe=str(universe),
        k=k,
    )
    for note in notes:
        (console if fmt == "table" else err_console).print(f"[yellow]warning:[/] {note}")


def tam_rows(result: TamResult, *, readable: bool = False) -> list[dict[str, Any]]:
    """The TAM as rows of (measure, current, widened): counts, then win rates."""
    widened = result.widened
    rows = []
    for label, name in (
        ("companies in the universe", "universe"),
        ("excluded by the ICP", "excluded"),
        ("outside the market served", "outside"),
        ("market served", "market"),
        ("TAM (match the profile)", "tam"),
        ("  already customers", "customers"),
        ("  prospects", "prospects"),
    ):
        if not result.discriminates and name == "tam":
            # Nothing discriminates: no TAM, tiers or routes presented as if meaningful.
            rows.append(_row(label, NotComputable(NO_RULES) if readable else None, None))
            if not readable:
                rows[-1]["current_reason"] = NO_RULES
            break
        rows.append(_row(label, _get(result.current, name), widened and _get(widened, name)))
    for tier in result.current.tiers if result.discriminates else ():
        rows.append(
            _row(f"  tier {tier}", result.current.tiers[tier], widened and widened.tiers[tier])
        )
    for route in result.current.routes if result.discriminates else ():
        rows.append(
            _row(
                f"  route {route}", result.current.routes[route], widened and widened.routes[route]
            )
        )
    rates = result.win_rates
    if rates is not None:
        old = ", ".join(_span(a, r[0]) for a, r in result.ranges.items())
        new = ", ".join(_span(a, r[1]) for a, r in result.ranges.items())
        show = _rate_text if readable else _rate_value
        rows.append(_row(f"win rate of deals in {old} / {new}", show(rates.old), show(rates.new)))
        rows.append(_row("win rate of deals in the band added", None, show(rates.added)))
        change = rates.change
        rows.append(
            _row(
                "expected change in win rate",
                None,
                (f"{change:+.1%}" if finite(change) else NotComputable(NO_DEALS))
                if readable
                else change,
            )
        )
    for row in rows:
        if widened is None:
            del row["widened"]
        if readable:
            row.update({k: _readable(v) for k, v in row.items() if k != "measure"})
    return rows


def _readable(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return f"{value:,}" if isinstance(value, int) else str(value)


def _get(count: TamCount, name: str) -> int:
    return int(getattr(count, name))


def _row(measure: str, current: Any, widened: Any) -> dict[str, Any]:
    return {"measure": measure, "current": current, "widened": widened}


def _span(attribute: str, bounds: Range) -> str:
    from icpkit.icp.model import format_number

    low, high = bounds
    if low is not None and high is not None:
        return f"{attribute} {format_number(low)}-{format_number(high)}"
    if low is not None:
        return f"{attribute} {format_number(low)}+"
    return f"{attribute} up to {format_number(high)}" if high is not None else attribute


def _rate_value(rate: RateEstimate) -> float:
    return rate.rate  # NaN without closed deals: null in JSON, with the reason beside it


def _rate_text(rate: RateEstimate) -> str:
    if not finite(rate.rate):
        return NotComputable(NO_DEALS)
    if not (finite(rate.low) and finite(rate.high)):
        return f"{rate.rate:.0%} ({rate.n_deals:,} deals, {rate.n_accounts:,} accounts)"
    return (
        f"{rate.rate:.0%} ({rate.low:.0%}-{rate.high:.0%}; {rate.n_deals:,} deals, "
        f"{rate.n_accounts:,} accounts)"
    )


def _print_profile(result: TamResult) -> None:
    console.print("Profile: " + (" AND ".join(result.current.profile) or "(none: the market)"))
    if result.widened is not None:
        console.print("Widened: " + " AND ".join(result.widened.profile))


def _widening(text: str) -> tuple[str, tuple[float, float]]:
    """'employees=20-500' -> ('employees', (20.0, 500.0))."""
    match = _WIDEN.match(text.strip())
    if match is None:
        fail(f"--widen {text!r}: expected attribute=low-high, e.g. employees=20-500")
    attribute, low, high = match.groups()
    try:
        return attribute, (float(low.replace(",", "")), float(high.replace(",", "")))
    except ValueError:
        fail(f"--widen {text!r}: low and high must be numbers, e.g. employees=20-500")
