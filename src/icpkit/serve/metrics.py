"""The server's counters in the Prometheus text format (version 0.0.4), written by hand.

A few counters and one histogram need no client library: the text is a dozen lines, and
``prometheus_client`` would be one more dependency with a multi-process mode (a shared
folder of memory-mapped files) that a small server does not need. Each worker process
counts its own requests; with ``serve.workers`` above 1, every scrape reads one worker.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter

BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds (seconds) of the request latency histogram."""
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
"""Upper bounds of the histogram of accounts scored together (a small request alone,
larger ones gathered into one query)."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Requests by route and status, their latency, accounts scored and reloads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = {}
        self.accounts = 0
        self.reloads: Counter[str] = Counter()
        self.batches = [0] * (len(BATCH_BUCKETS) + 1)
        self.batch_sum = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests[method, route, status] += 1
            counts = self.latency.setdefault(route, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def scored(self, n: int) -> None:
        """Count ``n`` accounts scored."""
        with self._lock:
            self.accounts += n

    def batched(self, accounts: int) -> None:
        """Count ``accounts`` accounts scored together (one request, or the requests
        gathered into one query)."""
        with self._lock:
            self.batches[bisect.bisect_left(BATCH_BUCKETS, accounts)] += 1
            self.batch_sum += accounts

    def reloaded(self, outcome: str) -> None:
        """Count one reload of the ICP, settings or data (``ok`` or ``failed``)."""
        with self._lock:
            self.reloads[outcome] += 1

    def render(self, icp_version: int) -> str:
        """Every metric as Prometheus text."""
        with self._lock:
            lines = [
                "# HELP icp_requests_total HTTP requests answered, by method, route and status.",
                "# TYPE icp_requests_total counter",
            ]
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(
                    f'icp_requests_total{{method="{_label(method)}",route="{_label(route)}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP icp_request_duration_seconds Time to answer a request, by route.",
                "# TYPE icp_request_duration_seconds histogram",
            ]
            for route, counts in sorted(self.latency.items()):
                running = 0
                name = _label(route)
                for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                    running += n
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    lines.append(
                        f'icp_request_duration_seconds_bucket{{route="{name}",le="{le}"}} {running}'
                    )
                lines.append(
                    f'icp_request_duration_seconds_sum{{route="{name}"}} '
                    f"{self.latency_sum[route]:.6f}"
                )
                lines.append(f'icp_request_duration_seconds_count{{route="{name}"}} {running}')
            lines += [
                "# HELP icp_accounts_scored_total Accounts scored.",
                "# TYPE icp_accounts_scored_total counter",
                f"icp_accounts_scored_total {self.accounts}",
                "# HELP icp_batch_accounts Accounts scored together: a request of a few "
                "alone, larger concurrent ones gathered into one query.",
                "# TYPE icp_batch_accounts histogram",
            ]
            running = 0
            for bound, n in zip((*BATCH_BUCKETS, float("inf")), self.batches, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'icp_batch_accounts_bucket{{le="{le}"}} {running}')
            lines += [
                f"icp_batch_accounts_sum {self.batch_sum}",
                f"icp_batch_accounts_count {running}",
                "# HELP icp_reloads_total Reloads of the ICP, settings or data, by outcome.",
                "# TYPE icp_reloads_total counter",
            ]
            for outcome in ("ok", "failed"):
                lines.append(f'icp_reloads_total{{outcome="{outcome}"}} {self.reloads[outcome]}')
            lines += [
                "# HELP icp_version The ICP version the server scores with.",
                "# TYPE icp_version gauge",
                f"icp_version {icp_version}",
            ]
        return "\n".join(lines) + "\n"
