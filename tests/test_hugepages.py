"""numpy's huge-page hint is turned off where the kernel would stall on it, and only there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from icpkit.hugepages import VARIABLE, chosen, configure, stalls


def _kernel(tmp_path: Path, enabled: str, defrag: str) -> tuple[Path, Path]:
    (tmp_path / "enabled").write_text(enabled + "\n")
    (tmp_path / "defrag").write_text(defrag + "\n")
    return tmp_path / "enabled", tmp_path / "defrag"


@pytest.fixture
def numpy_hint():
    """numpy's switch as the test found it, restored after."""
    getter = np._core.multiarray._get_madvise_hugepage
    before = getter()
    yield getter
    np._core.multiarray._set_madvise_hugepage(before)


def test_the_bracketed_choice_is_the_setting():
    assert chosen("always defer defer+madvise [madvise] never") == "madvise"
    assert chosen("[always] madvise never") == "always"
    assert chosen("nothing chosen") is None


@pytest.mark.parametrize(
    ("enabled", "defrag", "expected"),
    [
        ("always [madvise] never", "always defer defer+madvise [madvise] never", True),
        ("always [madvise] never", "always defer [defer+madvise] madvise never", True),
        ("[always] madvise never", "[always] defer defer+madvise madvise never", True),
        ("always [madvise] never", "always [defer] defer+madvise madvise never", False),
        ("always [madvise] never", "always defer defer+madvise madvise [never]", False),
        ("always madvise [never]", "always defer defer+madvise [madvise] never", False),
    ],
)
def test_only_synchronous_compaction_stalls(enabled, defrag, expected):
    assert stalls(enabled, defrag) is expected


def test_the_hint_is_turned_off_where_the_kernel_stalls(tmp_path, numpy_hint):
    np._core.multiarray._set_madvise_hugepage(True)
    environ: dict[str, str] = {}
    paths = _kernel(tmp_path, "always [madvise] never", "always defer [madvise] never")
    assert configure(environ, *paths)
    assert numpy_hint() is False  # numpy is loaded here: its own switch was turned


def test_the_hint_is_kept_where_the_kernel_defers(tmp_path, numpy_hint):
    np._core.multiarray._set_madvise_hugepage(True)
    paths = _kernel(tmp_path, "always [madvise] never", "always [defer] madvise never")
    assert not configure({}, *paths)
    assert numpy_hint() is True


def test_a_users_setting_decides(tmp_path, numpy_hint):
    np._core.multiarray._set_madvise_hugepage(True)
    paths = _kernel(tmp_path, "always [madvise] never", "always defer [madvise] never")
    assert not configure({VARIABLE: "1"}, *paths)
    assert numpy_hint() is True


def test_no_sysfs_changes_nothing(tmp_path, numpy_hint):
    np._core.multiarray._set_madvise_hugepage(True)
    assert not configure({}, tmp_path / "absent", tmp_path / "absent")
    assert numpy_hint() is True


def test_importing_icpkit_first_sets_numpys_variable(tmp_path):
    """Before numpy is loaded the variable numpy reads at import is set (on this machine's
    kernel, whatever it says: the check is that the decision and numpy agree)."""
    code = (
        "import os, icpkit, numpy, icpkit.hugepages as h\n"
        "expected = h.stalls(h.ENABLED.read_text(), h.DEFRAG.read_text()) "
        "if h.DEFRAG.exists() and h.ENABLED.exists() else False\n"
        "print(expected, numpy._core.multiarray._get_madvise_hugepage(), "
        f"os.environ.get({VARIABLE!r}))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != VARIABLE}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    if out[0] == "True":
        assert out[1:] == ["False", "0"]
    else:
        assert out[2] == "None"
