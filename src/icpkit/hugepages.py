"""Whether numpy asks the kernel for transparent huge pages.

numpy marks each array of 4 MB or more ``MADV_HUGEPAGE``. Where the kernel's ``defrag``
setting compacts memory synchronously for such regions (``always``, ``madvise``,
``defer+madvise``; ``madvise`` is most distributions' default), a page fault in one with no
huge page free waits while the kernel compacts memory; after DuckDB has used and freed
gigabytes, that wait cost 1-2 s of a 10-12 s derive of 1M deals (numpy/numpy#31590 describes
the stall). icpkit turns the hint off there before numpy allocates; NUMPY_MADVISE_HUGEPAGE, when
set, decides instead. The results are the same either way: only the page size changes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path

DEFRAG = Path("/sys/kernel/mm/transparent_hugepage/defrag")
ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")
VARIABLE = "NUMPY_MADVISE_HUGEPAGE"

# The defrag settings under which a fault in a region marked MADV_HUGEPAGE may stall.
_STALLING = frozenset({"always", "madvise", "defer+madvise"})


def chosen(setting: str) -> str | None:
    """The bracketed choice of a kernel setting: 'always defer [madvise] never' -> 'madvise'."""
    match = re.search(r"\[([^\]]+)\]", setting)
    return match.group(1) if match else None


def stalls(enabled: str, defrag: str) -> bool:
    """True when the kernel settings ``enabled`` and ``defrag`` (as read from sysfs) make a
    fault in memory marked MADV_HUGEPAGE wait on compaction."""
    return chosen(enabled) != "never" and chosen(defrag) in _STALLING


def configure(
    environ: MutableMapping[str, str] = os.environ,
    enabled: Path = ENABLED,
    defrag: Path = DEFRAG,
) -> bool:
    """Turn numpy's huge-page hint off where the kernel would stall on it, unless
    NUMPY_MADVISE_HUGEPAGE is set. Returns True when it turned the hint off."""
    if VARIABLE in environ:
        return False
    try:
        settings = enabled.read_text(), defrag.read_text()
    except OSError:  # not Linux, or no transparent huge pages: nothing to turn off
        return False
    if not stalls(*settings):
        return False
    numpy = sys.modules.get("numpy")
    if numpy is None:
        environ[VARIABLE] = "0"  # read by numpy when it is imported
        return True
    # numpy is loaded already (icpkit imported by a program that uses it): its switch.
    core = getattr(numpy, "_core", None) or getattr(numpy, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        return False
    setter(False)
    return True
