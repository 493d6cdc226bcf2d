"""Test data built once per test run, even when the run is split over worker processes
(``pytest -n 2``): the first process to ask builds it, the others wait and read it back."""

from __future__ import annotations

import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from filelock import FileLock

T = TypeVar("T")


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every process of this run shares: the session's own folder in a
    plain run, the one above each worker's folder in a parallel run (a new one per run)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(factory: pytest.TempPathFactory, key: str, build: Callable[[Path], T]) -> T:
    """``build(folder)``'s answer for ``key``, built once per run into a folder of its own.

    A file lock keeps a second process waiting while the first builds; the answer is pickled
    beside the folder for the processes that come after. A build that failed part way leaves
    no answer, and the next process to ask starts it again in an empty folder.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
        raise ValueError(f"a key names a folder: letters, digits, '_', '.', '-' only, not {key!r}")
    root = run_folder(factory) / "built-once"
    root.mkdir(exist_ok=True)
    folder, answer = root / key, root / f"{key}.pickle"
    with FileLock(str(root / f"{key}.lock")):
        if answer.exists():
            value: T = pickle.loads(answer.read_bytes())
            return value
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        value = build(folder)
        partial = answer.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(answer)
        return value
