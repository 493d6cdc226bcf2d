"""The server's processes keep what they hold once started out of the collector's walks."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from icpkit.serve.server import _FrozenAfterStartup


def test_what_the_server_holds_once_started_is_frozen_and_requests_pass_through() -> None:
    seen: list[str] = []
    counts: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            await receive()
            counts.append(gc.get_freeze_count())
            await send({"type": "lifespan.startup.complete"})
            counts.append(gc.get_freeze_count())

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, str]) -> None:
        seen.append(message["type"])

    wrapped = _FrozenAfterStartup(app)
    gc.unfreeze()
    try:
        asyncio.run(wrapped({"type": "lifespan"}, receive, send))
        asyncio.run(wrapped({"type": "http"}, receive, send))
        assert counts[0] == 0 < counts[1]
    finally:
        gc.unfreeze()
    assert seen == ["lifespan", "lifespan.startup.complete", "http"]
