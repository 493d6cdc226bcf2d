"""A server killed (SIGKILL) while it writes scores back loses no webhook event: on restart
every event is done exactly once and every company written once.

The servers are real processes running this file as a script: the first one's CRM hangs in
its write, so it is killed mid-drain with its events taken; the second one's CRM appends
what it writes to a file the test reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from icpkit.crm.base import FieldSpec, Record, Update, WriteResult
from icpkit.serve.queue import Queue

if TYPE_CHECKING:  # the test's fixtures; this file also runs as the server
    from helpers import DemoWorkspaces

SECRET = "hs-client-secret-killed-mid-drain"
N = 6


class FileCrm:
    """Companies ``1``..``N+2`` with a domain and a size; writes appended to
    ``writes.jsonl`` in ``folder``, or (``hang``) announced in ``writing`` and never
    finished."""

    name = "hubspot"

    def __init__(self, folder: Path, hang: bool) -> None:
        self.folder = folder
        self.hang = hang

    def read(self, obj: str, since: dt.datetime | None) -> Iterator[Record]:
        raise NotImplementedError

    def read_ids(self, obj: str, ids: Sequence[str]) -> list[Record]:
        now = dt.datetime.now(dt.UTC)
        return [
            Record("companies", i, now, {"domain": f"c{i}.example", "numberofemployees": "80"})
            for i in ids
        ]

    def ensure_fields(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> list[str]:
        return []

    def write(self, updates: Sequence[Update]) -> WriteResult:
        if self.hang:
            (self.folder / "writing").write_text(",".join(u.record_id for u in updates))
            time.sleep(3600)
        with (self.folder / "writes.jsonl").open("a") as out:
            for u in updates:
                out.write(json.dumps({"id": u.record_id, **u.values}) + "\n")
        return WriteResult(written=[u.record_id for u in updates], calls=1)

    @property
    def calls(self) -> int:
        return 0


def serve(root: Path, folder: Path, hang: bool) -> None:
    """Serve the workspace on a free port (written to ``folder/port``) until killed."""
    import uvicorn

    from icpkit.workspace import Workspace

    app = Workspace.open(root).serving_app(connectors=lambda name: FileCrm(folder, hang))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    (folder / "port").write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])


def start(root: Path, folder: Path, hang: bool) -> tuple[subprocess.Popen[bytes], str]:
    (folder / "port").unlink(missing_ok=True)
    env = os.environ | {
        "HUBSPOT_CLIENT_SECRET": SECRET,
        "ICPKIT_SECRETS_FILE": str(folder / "none.env"),
    }
    args = [sys.executable, __file__, str(root), str(folder), "hang" if hang else "write"]
    proc = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        port = folder / "port"
        if port.exists() and port.read_text():
            url = f"http://127.0.0.1:{port.read_text()}"
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
        time.sleep(0.1)


def post(url: str, pairs: Sequence[tuple[int, int]]) -> httpx.Response:
    body = json.dumps(
        [{"eventId": e, "subscriptionType": "company.creation", "objectId": o} for e, o in pairs]
    ).encode()
    stamp = str(int(time.time() * 1000))
    uri = "https://icp.example.com/v1/webhooks/hubspot"
    digest = hmac.new(
        SECRET.encode(), b"POST" + uri.encode() + body + stamp.encode(), hashlib.sha256
    )
    headers = {
        "X-HubSpot-Signature-v3": base64.b64encode(digest.digest()).decode(),
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return httpx.post(url + "/v1/webhooks/hubspot", content=body, headers=headers, timeout=30)


def wait_for(check: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.slow
def test_a_server_killed_mid_drain_loses_nothing_and_writes_each_company_once(
    tmp_path: Path, demo_workspace: DemoWorkspaces
) -> None:
    from serving import add_intent

    from icpkit.config import WebhookSettings

    root = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    hooks = WebhookSettings(
        public_url="https://icp.example.com", lease_s=2, retry_s=0.05, poll_ms=20, batch=100
    )
    add_intent(root, webhooks=hooks)
    folder = tmp_path / "crm"
    folder.mkdir()
    queue = Queue.of(root)

    first, url = start(root, folder, hang=True)
    try:
        answer = post(url, [(n, n) for n in range(1, N + 1)])
        assert answer.json()["queued"] == N
        wait_for(lambda: (folder / "writing").exists(), "the first server never wrote")
        assert queue.counts()["taken"] == N
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert first.returncode == -signal.SIGKILL
    assert not (folder / "writes.jsonl").exists()

    second, url = start(root, folder, hang=False)
    try:
        again = post(url, [(n, n) for n in range(1, N + 3)])  # the old ones, and two new
        assert again.json() == {"queued": 2, "duplicates": N, "ignored": []}
        wait_for(lambda: queue.counts()["done"] == N + 2, f"not all done: {queue.counts()}")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)

    assert queue.counts() == {"queued": 0, "taken": 0, "done": N + 2, "dead": 0}
    lines = (folder / "writes.jsonl").read_text().splitlines()
    written = Counter(json.loads(line)["id"] for line in lines)
    assert written == Counter({str(n): 1 for n in range(1, N + 3)})
    tries = {e["event_id"]: e["attempts"] for e in queue.events()}
    assert tries == {str(n): 2 if n <= N else 1 for n in range(1, N + 3)}


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "hang")
