"""The one family of errors icpkit raises on purpose: a message written for a person.

Every exception class icpkit defines derives from ``IcpkitError``: its message says what went
wrong (naming the file), and an optional ``hint`` says what to do. Anything else raised from
inside icpkit is a bug. The command line prints an ``IcpkitError`` as one line (and its hint)
and exits 1; ``--debug`` shows the traceback.

This module imports nothing heavy, so any module (and the CLI) can import it at once.
"""

from __future__ import annotations

import errno


class IcpkitError(Exception):
    """An expected failure: ``str(error)`` is the message, ``hint`` what to do about it."""

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class NothingToShow(IcpkitError):
    """Not a failure but an answer in words: there is nothing to rank or count, and the
    message says why. A face shows it as a warning, with an empty result."""


class DiskFullError(IcpkitError):
    """The disk filled up while icpkit was writing; ``done`` says what that left (for the
    store: nothing changed, the transaction rolled back)."""

    def __init__(self, path: object, *, done: str | None = "nothing was changed") -> None:
        tail = f"; {done}" if done else ""
        super().__init__(f"disk full while writing {path}: free space and re-run{tail}")
        self.path = str(path)


class OutOfMemoryError(IcpkitError):
    """DuckDB ran out of the memory it was allowed (``store.memory_limit``)."""


class ReadOnlyError(IcpkitError):
    """A command that writes met a read-only workspace or file system."""


class StoreBusyError(IcpkitError):
    """The store is locked by another process for longer than icpkit was willing to wait."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or any error it was raised from) is "no space left on device"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(current)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def is_read_only(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says the file system or the file refuses writing."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.EROFS:
            return True
        if "Read-only file system" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
