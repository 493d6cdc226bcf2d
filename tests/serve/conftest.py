"""The running server of the API tests (see serving.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import Served, add_intent, start

from helpers import DemoWorkspaces


@pytest.fixture
def served(tmp_path: Path, demo_workspace: DemoWorkspaces) -> Iterator[Served]:
    """A server over a private copy of the derived 800-deal demo workspace (with intent
    signals, ``serve.max_batch`` 50 and ``serve.max_body_bytes`` 100,000)."""
    root = demo_workspace(800, 5, derived=True).copy(tmp_path / "ws").root
    ws = add_intent(root, max_batch=50, max_body_bytes=100_000)
    _, token = ws.create_token("crm-sync")
    _, read_token = ws.create_token("dashboard", "read")
    server, thread, url = start(ws)
    try:
        yield Served(url, ws, token, read_token, server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
