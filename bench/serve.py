"""Serving benchmark: ``icp serve`` (real uvicorn on 127.0.0.1) under a load client.

In one run:

- prepare: a demo workspace (``--deals`` deals) with its derived ICP and a scoring token;
  the accounts sent are the demo CRM's companies as its export writes them (raw values:
  ``Computer Software``, ``England``, ``HubSpot;Slack``), so the normalizers run too;
- start ``icp serve --workers W`` in its own process and wait for ``/healthz``;
- single accounts at a fixed rate (open loop, ``--rate`` requests/s for ``--seconds``):
  p50/p99/max latency measured from the moment each request was due, so a stalled server
  cannot hide its queue (no coordinated omission);
- sustained single requests: ``--connections`` keep-alive connections each sending its next
  request as soon as the last one is answered; requests/s and latency;
- a batch of 1,000 accounts, ``--batches`` times one after the other: latency;
- the client's own ceiling: the same closed loop against ``/healthz`` (no scoring), to show
  the client is not what limits the figures.

The client is a raw asyncio HTTP/1.1 client (keep-alive, Content-Length bodies) in this
process: httpx costs more CPU per request than the server's scoring does.

Usage: ``python bench/serve.py [--deals 5000] [--workers 1] [--rate 500] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ICP = Path(sys.executable).with_name("icp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(root: Path, deals: int) -> tuple[Path, str, list[dict[str, Any]]]:
    """A derived demo workspace, a scoring token, and the accounts to send."""
    from icpkit.workspace import Workspace, make_demo_crm

    files = make_demo_crm(deals, 7, root / "crm")
    ws = Workspace.init(root / "ws")
    assert ws.ingest(files.exports()).ok
    ws.derive()
    _, token = ws.create_token("bench")
    accounts = []
    with (root / "crm" / "companies.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            accounts.append(
                {
                    "domain": row["Company Domain Name"] or None,
                    "name": row["Company name"],
                    "employees": row["Number of Employees"] or None,
                    "revenue": row["Annual Revenue"] or None,
                    "industry": row["Industry"] or None,
                    "country": row["Country/Region"] or None,
                    "technologies": row["Web Technologies"] or None,
                    "founded_year": row["Year Founded"] or None,
                    "Time Zone": row["Time Zone"] or None,
                }
            )
    return ws.root, token, accounts


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, raw: bytes) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError):
            # The server closed a connection left idle past its keep-alive timeout before
            # reading the request: open another and send it again.
            self.close()
            await self.open()
            assert self.reader is not None and self.writer is not None
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def http(method: str, path: str, token: str, body: Any = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its children."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    total = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (this process)
    return total / os.sysconf("SC_CLK_TCK")


def batched(port: int, token: str) -> tuple[float, float]:
    """The server's count of scoring calls and of accounts scored in them (``/metrics``)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        text = r.read().decode()
    found = dict(
        line.split(" ", 1) for line in text.splitlines() if line.startswith("icp_batch_accounts_")
    )
    return float(found["icp_batch_accounts_count"]), float(found["icp_batch_accounts_sum"])


def measured(server: int, phase: Any, port: int, token: str) -> dict[str, float]:
    """Run ``phase`` (a coroutine), adding the CPU time the server and this client used,
    and the mean number of accounts scored together (one worker's, with several)."""
    import resource

    before = cpu_seconds(server), resource.getrusage(resource.RUSAGE_SELF)
    queries = batched(port, token)
    result: dict[str, float] = asyncio.run(phase)
    after = cpu_seconds(server), resource.getrusage(resource.RUSAGE_SELF)
    done = batched(port, token)
    result["per_query"] = (done[1] - queries[1]) / max(done[0] - queries[0], 1)
    n = max(result.get("requests", 0), 1)
    result["server_cpu_ms"] = (after[0] - before[0]) * 1000 / n
    used = (after[1].ru_utime + after[1].ru_stime) - (before[1].ru_utime + before[1].ru_stime)
    result["client_cpu_ms"] = used * 1000 / n
    return result


def summary(latencies: list[float], seconds: float, errors: int) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        return {"requests": 0, "errors": errors}
    return {
        "requests": len(ms),
        "errors": errors,
        "per_s": len(ms) / seconds,
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        "max_ms": ms[-1],
    }


async def open_loop(
    port: int, bodies: list[bytes], rate: float, seconds: float
) -> dict[str, float]:
    """Requests due every 1/rate s; latency from when each was due."""
    idle: list[Connection] = []
    latencies: list[float] = []
    errors = 0
    tasks = []

    async def one(raw: bytes, due: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else Connection(port)
        if conn.writer is None:
            await conn.open()
        status = await conn.request(raw)
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        idle.append(conn)

    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for c in idle:
        c.close()
    return summary(latencies, elapsed, errors)


async def closed_loop(
    port: int, bodies: list[bytes], connections: int, seconds: float
) -> dict[str, float]:
    """``connections`` clients, each sending its next request when the last is answered."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        conn = Connection(port)
        await conn.open()
        i = k
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            status = await conn.request(bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - t0)
            errors += status != 200
            i += connections
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    return summary(latencies, time.perf_counter() - start, errors)


async def batches(port: int, body: bytes, times: int) -> dict[str, float]:
    conn = Connection(port)
    await conn.open()
    latencies = []
    errors = 0
    start = time.perf_counter()
    for _ in range(times):
        t0 = time.perf_counter()
        errors += await conn.request(body) != 200
        latencies.append(time.perf_counter() - t0)
    conn.close()
    return summary(latencies, time.perf_counter() - start, errors)


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"icp serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("icp serve did not answer /healthz in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--window-ms", type=float, default=None, help="serve.batch_window_ms")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="icp-serve-bench-"))
    server = None
    before = os.getloadavg()[0]
    try:
        t0 = time.perf_counter()
        ws_root, token, accounts = prepare(root, args.deals)
        if args.window_ms is not None:
            import yaml

            config = ws_root / "icp.yaml"
            data = yaml.safe_load(config.read_text())
            data.setdefault("serve", {})["batch_window_ms"] = args.window_ms
            config.write_text(yaml.safe_dump(data, sort_keys=False))
        print(f"prepared {len(accounts):,} accounts in {time.perf_counter() - t0:.0f} s")
        port = free_port()
        env = {**os.environ, "ICP_WORKSPACE": str(ws_root)}
        server = subprocess.Popen(
            [str(ICP), "serve", "--port", str(port), "--workers", str(args.workers),
             "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        wait_healthy(port, server)
        singles = [http("POST", "/v1/score", token, a) for a in accounts]
        batch = http("POST", "/v1/score", token, {"accounts": accounts[:1000]})
        health = [http("GET", "/healthz", token)]
        asyncio.run(closed_loop(port, singles, 8, 2))  # warm-up
        pid = server.pid
        results = {
            f"single at {args.rate:g}/s (open loop)": measured(
                pid, open_loop(port, singles, args.rate, args.seconds), port, token
            ),
            f"single, {args.connections} connections (closed loop)": measured(
                pid, closed_loop(port, singles, args.connections, args.seconds), port, token
            ),
            "batch of 1,000 accounts": measured(
                pid, batches(port, batch, args.batches), port, token
            ),
            f"client ceiling: /healthz, {args.connections} connections": measured(
                pid, closed_loop(port, health, args.connections, args.seconds / 2), port, token
            ),
        }
        print(
            f"workers {args.workers}, cores {os.cpu_count()}, "
            f"load {before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
        heads = ("requests:9", "errors:6", "req/s:8", "p50 ms:7", "p99 ms:7", "max ms:7",
                 "srv cpu:8", "cli cpu:8", "/call:7")  # fmt: skip
        print(f"{'phase':<48}", *(f"{h.split(':')[0]:>{h.split(':')[1]}}" for h in heads))
        for name, r in results.items():
            print(
                f"{name:<48} {r['requests']:>9,.0f} {r['errors']:>6.0f} {r.get('per_s', 0):>8,.0f} "
                f"{r.get('p50_ms', 0):>7.1f} {r.get('p99_ms', 0):>7.1f} {r.get('max_ms', 0):>7.1f} "
                f"{r['server_cpu_ms']:>8.2f} {r['client_cpu_ms']:>8.2f} "
                + (f"{r['per_query']:>7.1f}" if args.workers == 1 else f"{'-':>7}")
            )
        print("srv cpu / cli cpu: CPU milliseconds per request used by the server (all its")
        print("processes) and by this client; on a quiet machine the server's capacity is")
        print("about cores x 1000 / (srv cpu + cli cpu) requests/s while the client shares it;")
        print("/call: accounts scored together (a small request alone, larger ones gathered")
        print("into one query); with several workers each counts its own, so it is shown for")
        print("one worker only.")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
