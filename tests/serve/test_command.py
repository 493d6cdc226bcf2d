"""``icp serve`` as a person runs it: its own process, one or two workers, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import DemoWorkspaces

ICP = Path(sys.executable).with_name("icp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_icp_serve_answers_with_its_workers_and_stops_on_sigterm(
    tmp_path: Path, demo_workspace: DemoWorkspaces, workers: int
) -> None:
    from icpkit.workspace import Workspace

    root = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    _, token = Workspace.open(root).create_token("crm-sync")
    port = free_port()
    server = subprocess.Popen(
        [str(ICP), "serve", "--port", str(port), "--workers", str(workers), "--workspace",
         str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ICP_LOCK_WAIT": "30"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0].decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "icp serve did not answer"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            answers = [
                client.post("/v1/score", json={"employees": 120, "industry": "Software"})
                for _ in range(6)
            ]
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["score"] for a in answers}) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode == 0, output
    assert token.split("_", 2)[2] not in output  # the secret (it may hold "_")
    assert "Traceback" not in output
