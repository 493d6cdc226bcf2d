"""Running the API on uvicorn: one process, or ``workers`` processes sharing one socket."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
from collections.abc import Iterator

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


def run(source: Source, *, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve ``source`` on ``host:port`` until stopped (Ctrl-C or SIGTERM)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from icpkit.serve.app import create_app

    logging.getLogger("icpkit.serve").setLevel(log_level.upper())
    config = uvicorn.Config(
        functools.partial(create_app, source),
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
