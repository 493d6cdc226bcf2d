"""Drift monitoring benchmark: does ``icp monitor`` catch a planted drift, and only that?

For each seed a demo CRM is generated twice, with and without a planted drift (the
software segment's New Business win rate falls after ``--after``: ``icpkit.demo.Drift``).
The ICP is derived on the deals created before that day; then the whole export is
ingested and the monitor is replayed at the end of each month and of each quarter after the drift
(``Workspace.monitor(as_of=...)``: deals as they stood that day). Printed:

- the false-alarm rate: drift-free seeds whose first check says ``action`` (target: at most
  5%), and the share of all checks that say it;
- the detection rate at the first check after the drift, and the detection delay (days
  from the drift to the first check that says ``action``).

Usage: ``python bench/monitor.py [--seeds 20] [--deals 20000] [--after 2025-04-01]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from icpkit.demo import Drift, make_crm
from icpkit.workspace import Workspace

EXPORT = dt.date(2025, 9, 30)


def checks(after: dt.date, period: str) -> list[dt.date]:
    """The last day of every period from ``after`` to the export date."""
    step = 1 if period == "month" else 3
    out, year, month = [], after.year, after.month
    while True:
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        day = dt.date(year, month, 1) - dt.timedelta(days=1)
        if day > EXPORT:
            return out
        out.append(day)


def replay(
    root: Path, n: int, seed: int, drift: Drift | None, after: dt.date
) -> dict[str, list[str]]:
    """The verdict of each monthly and each quarterly check after ``after`` on one
    generated CRM."""
    files = make_crm(n, seed, root / "crm", drift=drift)
    early = root / "deals_before.csv"
    files.write_deals_before(after, early)
    ws = Workspace.init(root / "ws")
    ws.ingest([files.companies, early, files.signals])
    ws.derive()
    ws.ingest([files.deals])
    return {
        period: [ws.monitor(period=period, as_of=day).verdict for day in checks(after, period)]
        for period in ("month", "quarter")
    }


def report(period: str, clean: list[list[str]], drifted: list[list[str]], after: dt.date) -> None:
    """The alarm rates and detection delay of one kind of check."""
    days = checks(after, period)
    first_alarm = sum(v[0] == "action" for v in clean) / len(clean)
    any_alarm = sum(x == "action" for v in clean for x in v) / sum(len(v) for v in clean)
    warned = sum(x == "warning" for v in clean for x in v) / sum(len(v) for v in clean)
    caught_first = sum(v[0] == "action" for v in drifted) / len(drifted)
    delays = [(days[v.index("action")] - after).days + 1 for v in drifted if "action" in v]
    print(f"\n{period}ly checks on {', '.join(d.isoformat() for d in days)}")
    print(f"  false alarms (action) at the first check, drift-free: {first_alarm:.0%}")
    print(f"  false alarms (action) over all checks, drift-free: {any_alarm:.1%}")
    print(f"  warnings over all checks, drift-free: {warned:.1%}")
    print(f"  drift caught (action) at the first check: {caught_first:.0%}")
    if delays:
        print(
            f"  detection delay: median {statistics.median(delays):.0f} days "
            f"(range {min(delays)}-{max(delays)}), caught in {len(delays)} of {len(drifted)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--after", type=dt.date.fromisoformat, default=dt.date(2025, 4, 1))
    parser.add_argument("--log-odds", type=float, default=-1.5)
    args = parser.parse_args()
    started = time.perf_counter()
    runs: dict[bool, list[dict[str, list[str]]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="icpkit-monitor-") as tmp:
        for seed in range(1, args.seeds + 1):
            for planted in (False, True):
                drift = Drift(args.after, "software", args.log_odds) if planted else None
                root = Path(tmp) / f"{seed}-{planted}"
                runs[planted].append(replay(root, args.deals, seed, drift, args.after))
                shutil.rmtree(root, ignore_errors=True)
            print(
                f"seed {seed}: drift-free {runs[False][-1]}, drifted {runs[True][-1]}", flush=True
            )
    print(
        f"\n{args.seeds} seeds x {args.deals:,} deals; ICP derived on deals created before "
        f"{args.after}; drift: software New Business log-odds {args.log_odds:+} from then"
    )
    for period in ("month", "quarter"):
        report(
            period,
            [r[period] for r in runs[False]],
            [r[period] for r in runs[True]],
            args.after,
        )
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
