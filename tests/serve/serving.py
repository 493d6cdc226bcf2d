"""A real uvicorn server on 127.0.0.1 (a free port) over a workspace, for the API tests.

The ICP gains two intent signals set by hand (a decaying SDR posting, any funding round),
so the demo's own signals and the requests' signals move the scores. The server runs in a
thread of the test process, so its logs are captured and a test may patch it.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from icpkit.config import load_settings, save_settings
from icpkit.workspace import Workspace

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

AS_OF = dt.date(2025, 10, 15)
"""A day shortly after the demo CRM's last signals, so its signals are inside their windows."""
INTENT = [
    {
        "id": "job-posting-sdr",
        "signal": "job_posting",
        "detail_in": ["SDR"],
        "window_days": [0, 120],
        "source": "human",
        "reason": "SDR hiring precedes outbound buying in our deals",
        "points": 10,
        "half_life_days": 30,
    },
    {
        "id": "funding-any",
        "signal": "funding_round",
        "window_days": [0, 365],
        "source": "human",
        "reason": "a fresh round funds new tools",
        "points": 6,
    },
]


def add_intent(root: Path, **serve: Any) -> Workspace:
    """Give the workspace's ICP the hand-set intent signals, and ``serve`` settings."""
    path = root / "icp.yaml"
    settings = load_settings(path)
    assert settings.icp is not None
    settings.icp["intent"] = [*settings.icp.get("intent", []), *INTENT]
    settings.serve = settings.serve.model_copy(update={"reload_ms": 100, **serve})
    save_settings(settings, path)
    return Workspace.open(root)


@dataclass
class Served:
    """A running server: its URL, workspace, a score token and a read token."""

    url: str
    ws: Workspace
    token: str
    read_token: str
    server: Any

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start(ws: Workspace) -> tuple[Any, threading.Thread, str]:
    """uvicorn serving ``ws`` on a free port of 127.0.0.1, in a thread, started."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(ws.serving_app(), log_level="info", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"
