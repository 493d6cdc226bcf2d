"""Enrichment benchmark: keyless providers over generated company websites on loopback.

A demo CRM is generated with about ``--domains`` companies; every company gets a website,
a job board and DNS records (``icpkit.demo.write_websites``), served by the demo's web and
DNS server in a process of its own (the other core). A workspace holding only the companies'
names and domains is enriched with the keyless providers (website, technographics,
hiring). Printed, from one run:

- domains/s of the first run, and against the sequential script a user would otherwise
  write (httpx, one domain after another: homepage and careers page), on the same sites;
- resident memory at 10%, 50% and 100% of the run (flat: pages are dropped once read);
- the cached re-run: its time and how many times faster it is;
- precision and recall of the technographic matcher against the tools planted in each site;
- the same run and the script against a server that answers after ``--latency-ms`` (50 ms,
  a site across the internet), on ``--far-domains`` domains: on loopback the script pays no
  wait, there the providers' concurrency is what counts.

Usage: ``python bench/enrich.py [--domains 10000] [--seed 7] [--baseline 1000]
[--latency-ms 50] [--far-domains 2000]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from icpkit.demo import make_crm
from icpkit.demo.websites import write_websites
from icpkit.workspace import Workspace

KEYLESS = ["website", "technographics", "hiring"]


def rss_mib() -> float:
    """Resident memory of this process now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(www: str, pipe: Any, latency_s: float = 0.0) -> None:
    from icpkit.demo.webserver import serve

    with serve(Path(www), latency_s=latency_s) as server:
        pipe.send((server.connect_to, server.dns_server))
        pipe.recv()  # until the parent is done


class _Scripts(HTMLParser):
    """The script sources of a page, as a short script would collect them."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.sources.extend(v for k, v in attrs if k == "src" and v)


def sequential(domains: list[str], connect_to: list[str]) -> float:
    """Domains/s of the script a user would otherwise write: one domain after another (one
    client, a connection per request as for separate hosts), the homepage and the careers
    page, script sources read with the
    standard library's HTML parser (less than the providers do: no robots.txt, no job
    board, no DNS, no JSON-LD)."""
    port = int(connect_to[0].rsplit(":", 1)[1])
    started = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for domain in domains:
            for path in ("/", "/careers"):
                # Each domain is another host: a connection of its own, as on the internet.
                headers = {"Host": domain, "Connection": "close"}
                page = client.get(f"http://127.0.0.1:{port}{path}", headers=headers)
                parser = _Scripts()
                parser.feed(page.text)
    return len(domains) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline", type=int, default=1000, help="domains the script fetches")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="a distant site's delay")
    parser.add_argument("--far-domains", type=int, default=2000, help="domains asked far away")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="icpkit-bench-enrich-"))
    files = make_crm(round(args.domains * 1.6), args.seed, root / "crm")
    started = time.perf_counter()
    sites = write_websites(files, root / "sites")
    wrote = time.perf_counter() - started
    names = root / "companies_names_only.csv"
    files.write_names_only(names)
    print(
        f"{len(sites.truth):,} websites written in {wrote:.1f} s "
        f"({sites.n_files:,} files, {sites.n_bytes / 2**20:.0f} MiB)"
    )
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(str(sites.www), child), daemon=True)
    server.start()
    connect_to, dns_server = parent.recv()
    try:
        ws = Workspace.init(root / "ws")
        ws.ingest([names])
        samples: dict[int, float] = {}
        total = len(sites.truth)

        def progress(tally: Any, _: int) -> None:
            if tally.provider == "website":
                for share in (10, 50, 100):
                    if share not in samples and tally.asked >= total * share / 100:
                        samples[share] = rss_mib()

        before = rss_mib()
        first = ws.enrich(KEYLESS, connect_to=connect_to, dns_server=dns_server, progress=progress)
        second = ws.enrich(KEYLESS, connect_to=connect_to, dns_server=dns_server)
        domains = list(sites.truth)[: args.baseline]
        script = sequential(domains, connect_to)
        precision, recall, unheld = matcher_quality(ws, sites.truth)
    finally:
        parent.send("stop")
        server.join(5)
    far = far_away(root, sites, names, args.latency_ms / 1000, args.far_domains)
    rate = total / first.seconds
    print("\n| measure | value |\n| --- | --- |")
    print(f"| domains | {total:,} |")
    print(f"| first run, keyless providers | {first.seconds:.1f} s, {rate:,.0f} domains/s |")
    print(f"| sequential script (homepage and careers page) | {script:,.0f} domains/s |")
    print(f"| first run vs the script | {rate / script:.1f}x |")
    print(
        f"| resident memory before / 10% / 50% / 100% | {before:.0f} / "
        + " / ".join(f"{samples.get(s, float('nan')):.0f}" for s in (10, 50, 100))
        + " MiB |"
    )
    print(
        f"| cached re-run | {second.seconds:.2f} s, {first.seconds / second.seconds:.0f}x faster |"
    )
    print(f"| technographics precision / recall | {precision:.3f} / {recall:.3f} |")
    print(f"| sites whose company the export gives no usable domain | {unheld:,} |")
    ours, script_far = far
    print(
        f"| {args.latency_ms:.0f} ms per answer, {args.far_domains:,} domains: providers vs the "
        f"script | {ours:,.0f} vs {script_far:,.1f} domains/s ({ours / script_far:,.0f}x) |"
    )
    for tally in first.tallies:
        print(f"| {tally.provider}: found / missed / failed | {tally.found:,} / "
              f"{tally.missed:,} / {tally.failed:,} |")  # fmt: skip


def far_away(
    root: Path, sites: Any, names: Path, latency_s: float, domains: int
) -> tuple[float, float]:
    """Domains/s of the providers and of the script against a server that answers after
    ``latency_s``, as sites across the internet do: where concurrency pays."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(str(sites.www), child, latency_s), daemon=True)
    server.start()
    connect_to, dns_server = parent.recv()
    try:
        listed = root / "far_domains.txt"
        chosen = list(sites.truth)[:domains]
        listed.write_text("\n".join(chosen) + "\n")
        ws = Workspace.init(root / "ws-far")
        ws.ingest([names])
        run = ws.enrich(KEYLESS, domains=listed, connect_to=connect_to, dns_server=dns_server)
        script = sequential(chosen[:100], connect_to)
    finally:
        parent.send("stop")
        server.join(5)
    return len(chosen) / run.seconds, script


def matcher_quality(ws: Workspace, truth: Any) -> tuple[float, float, int]:
    """Precision and recall of the tools the technographics provider saw, per (domain,
    tool), against the tools each site was written with, over the domains the workspace
    holds; and how many sites have no account with their domain (the export's rows with a
    missing or garbled domain: no provider can find those)."""
    import duckdb

    con = duckdb.connect(str(ws.store_path), read_only=True)
    try:
        rows = con.execute(
            """SELECT a.domain, o.value FROM enrich_observations o
               JOIN accounts a USING (account_key)
               WHERE o.provider = 'technographics' AND o.field = 'tech'"""
        ).fetchall()
        held = {d for (d,) in con.execute("SELECT domain FROM accounts").fetchall()}
    finally:
        con.close()
    seen = {(d, t) for d, t in rows}
    planted = {(d, t) for d, site in truth.items() if d in held for t in site.tech}
    hits = len(seen & planted)
    unheld = sum(1 for d in truth if d not in held)
    return hits / max(len(seen), 1), hits / max(len(planted), 1), unheld


if __name__ == "__main__":
    main()
