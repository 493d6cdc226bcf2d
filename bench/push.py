"""CRM push benchmark: ``--records`` changed accounts pushed to the HubSpot emulator on
127.0.0.1, within its rate limit (``--rate`` requests per 10 s per token; HubSpot's private
apps get 100 on Free and Starter, 190 on Professional and Enterprise).

The push is the sync's own (icpkit.crm.push.push: the fingerprint per record, pending and
confirmed batches in the sync state, the HubSpot connector's batch update of 100 records a
call, 429s waited out as Retry-After says); the accounts and their values are made up here
(scoring is measured by bench/score.py), each with a CRM record id as a pull leaves them.
It prints seconds, API calls (every attempt, 429s included), records per second, the
seconds spent waiting out the rate limit, and checks that the emulator applied each record's
update exactly once. A second push of the same values shows what "only what changed" costs.

Usage: ``python bench/push.py [--records 100000] [--rate 190]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from icpkit.crm.emulators.hubspot import ALL_SCOPES, HubSpotEmulator
from icpkit.crm.hubspot import HubSpotConnector
from icpkit.crm.push import ScoredAccount, push
from icpkit.crm.state import SyncState

TOKEN = "pat-bench"
TIERS = "ABCD"
ROUTES = ("work_now", "nurture", "automated_nurture", "disqualify")


def accounts(n: int) -> list[ScoredAccount]:
    """``n`` accounts with values that look like a scorecard's."""
    out = []
    for i in range(n):
        fit = (i * 37) % 101
        values = {
            "icp_fit": fit,
            "icp_intent": (i * 11) % 101,
            "icp_score": (fit * 3 + (i * 11) % 101) // 4,
            "icp_tier": TIERS[min(3, (100 - fit) // 25)],
            "icp_route": ROUTES[i % 4],
            "icp_reasons": f"Employees 50-500 (+{fit % 17}); Industry in Software (+9)",
            "icp_version": 3,
        }
        out.append(ScoredAccount(f"account{i}.com", f"Account {i}", values))
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=190, help="requests per 10 s per token")
    args = parser.parse_args(argv)
    scored = accounts(args.records)
    with (
        tempfile.TemporaryDirectory(prefix="icp-push-") as tmp,
        HubSpotEmulator({TOKEN: ALL_SCOPES}, rate=args.rate) as hub,
    ):
        root = Path(tmp)
        ids = {}
        for a in scored:
            ids[hub.add("companies", {"name": a.name, "domain": a.account_key})] = a.account_key
        with SyncState(root) as state:  # as a pull leaves it: a record id per account
            state.advance("hubspot", "companies", dt.datetime.now(dt.UTC), ids)
        api = HubSpotConnector(TOKEN, base_url=hub.url)
        started = time.perf_counter()
        result = push(api, root, scored, 3)
        seconds = time.perf_counter() - started
        limited = sum(1 for r in hub.requests if r[2] == 429)
        writes = set(hub.writes.values())
        again_started = time.perf_counter()
        again = push(api, root, scored, 3)
        again_seconds = time.perf_counter() - again_started
    figures: dict[str, object] = {
        "records": args.records,
        "rate_limit": f"{args.rate} requests / 10 s",
        "seconds": round(seconds, 1),
        "api_calls": result.calls,
        "rate_limited_answers": limited,
        "waited_s": round(api.waited_s, 1),
        "records_per_s": round(result.written / seconds),
        "written": result.written,
        "refused": len(result.refused),
        "each_written_once": writes == {1} and len(hub.writes) == args.records,
        "second_push_seconds": round(again_seconds, 2),
        "second_push_calls": again.calls,
        "second_push_written": again.written,
    }
    print(json.dumps(figures, indent=2))
    if not figures["each_written_once"] or result.written != args.records:
        sys.exit("the push did not write every record exactly once")
    return figures


if __name__ == "__main__":
    main()
