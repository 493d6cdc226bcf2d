"""Python's cycle collector paused for the length of a computation.

A derivation makes and frees hundreds of thousands of small objects (rows of the lift
table, rules, evidence) that hold no reference cycles, and each pass of the collector walks
them while every thread waits on it: 958 passes took 0.21 s of a 1M-deal derive. Paused, it
runs again after the computation and collects whatever cycles there were then.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # computations inside ``paused`` now, in any thread
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside the block, and back as it was once the last block running
    (in any thread) ends; usable as a decorator."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
