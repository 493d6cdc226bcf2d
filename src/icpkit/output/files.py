"""Files written whole or not at all: a temporary file in the target's folder, renamed into place.

Every file icpkit writes (``--out`` of any command, scored files, ``icp.yaml``, ICP versions,
demo exports) goes through :func:`atomic_path`: the bytes go to ``.<name>.icpkit-tmp-<pid>``
beside the target, are flushed to disk, and the finished file replaces the target in one
rename, so a crash, a full disk or a kill leaves either the previous file or the new one,
never a fragment. The temporary file is removed on any exception, Ctrl-C or SIGTERM (see
:func:`exit_cleanly_on_sigterm`); a SIGKILL cannot be caught, so the temporary name carries
the writer's process id and the next write in that folder removes those of dead processes::

    with atomic_path(Path("scored.csv")) as tmp:
        con.execute(f"COPY scored TO '{tmp}' (FORMAT CSV)")
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

TEMP_MARK = ".icpkit-tmp-"
"""What every temporary file or folder icpkit makes carries in its name, before its pid."""
_STALE = re.compile(r"^.*" + re.escape(TEMP_MARK) + r"(\d+)(-\w+)?$")
_counter = itertools.count(1)
_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive, not ours to judge
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove the temporary files and folders a killed icpkit left in ``folder`` (those whose
    writer process is gone); returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _STALE.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def temp_prefix(kind: str) -> str:
    """A prefix for ``tempfile`` names that :func:`sweep_stale` recognizes once this process
    is gone: ``.<kind>.icpkit-tmp-<pid>-``."""
    return f".{kind}{TEMP_MARK}{os.getpid()}-"


def temp_name(target: Path) -> Path:
    """A fresh temporary name beside ``target``: ``.<name>.icpkit-tmp-<pid>`` (then ``-2``,
    ``-3`` ... for further writes from this process)."""
    with _lock:
        n = next(_counter)
    stem = f".{target.name}{TEMP_MARK}{os.getpid()}"
    candidate = target.parent / stem
    while candidate.exists() or candidate.is_symlink():
        candidate = target.parent / f"{stem}-{n}"
        n += 1
    return candidate


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems cannot open a folder, which is fine.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; when the block ends without an error the
    file is flushed to disk and renamed onto ``target``, otherwise it is removed.

    With ``overwrite=False`` an existing target is never replaced (FileExistsError): the
    finished file is hard-linked into place, which fails if the name is taken.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    tmp = temp_name(target)
    try:
        yield tmp
        _fsync_file(tmp)
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: str | bytes, *, overwrite: bool = True) -> None:
    """Write ``path`` whole or not at all (text as UTF-8), so a crash leaves either the old or
    the new file; see :func:`atomic_path` for ``overwrite``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        if isinstance(data, str):
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                fh.write(data)
        else:
            tmp.write_bytes(data)


@contextlib.contextmanager
def temp_folder(near: Path) -> Iterator[Path]:
    """A scratch folder inside ``near`` (``.work.icpkit-tmp-<pid>``), removed with everything
    in it when the block ends; one left by a killed run goes at the next sweep."""
    near.mkdir(parents=True, exist_ok=True)
    sweep_stale(near)
    folder = temp_name(near / "work")
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_signalled: list[int] = []


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _signalled.append(signum)
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def stopped_by_signal() -> int | None:
    """The signal that stopped this process's work, if one did: DuckDB reports a query
    stopped that way as 'Query interrupted', which says less."""
    return _signalled[-1] if _signalled else None


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a container stop) unwind like Ctrl-C, so that temporary files
    are removed on the way out; does nothing off the main thread or when a handler is set."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_interrupt)
