"""Running the API on uvicorn: one process, or ``workers`` processes sharing one socket."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

from icpkit.serve.live import Source

STOPS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stop_is_the_end() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the server (uvicorn shuts down gracefully, then hands the
    signal back to the handler it found): here that handler does nothing more, so a
    stopped server is a command that ended well, not one that was interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in STOPS}
    for s in STOPS:
        signal.signal(s, lambda signum, frame: None)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


class _FrozenAfterStartup:
    """The application, with what the process holds once it has started (modules, the
    compiled scorecard, the workspace snapshot) moved out of the garbage collector's sight:
    a full collection then walks only what requests made since. Walking the whole heap
    paused the server for up to 130 ms, several times a minute under load, the whole of
    its slowest answers (bench/serve.py). Only here, in the server's own processes: an
    application embedded elsewhere leaves its host's collector alone."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sent(message: Any) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                gc.collect()
                gc.freeze()

        await self.app(scope, receive, sent)


def _application(source: Source) -> Any:
    """The ASGI application of one server process (uvicorn's factory)."""
    from icpkit.serve.app import create_app

    return _FrozenAfterStartup(create_app(source))


def run(source: Source, *, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve ``source`` on ``host:port`` until stopped (Ctrl-C or SIGTERM)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    logging.getLogger("icpkit.serve").setLevel(log_level.upper())
    config = uvicorn.Config(
        functools.partial(_application, source),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        server_header=False,
        # Request lines only: no headers (where the token is) are ever logged.
        access_log=True,
        timeout_graceful_shutdown=10,
    )
    with _stop_is_the_end():
        if workers > 1:
            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
            return
        uvicorn.Server(config).run()
