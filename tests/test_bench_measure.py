"""The benchmarks' measure of a step: its own time, CPU, page faults and last line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def measure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_measure", BENCH / "measure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_a_step_that_touches_more_memory_counts_more_page_faults(measure: ModuleType) -> None:
    """64 MiB written page by page are about 16,384 faults more than a step that touches
    nothing: the faults are the step's own, counted in its process. Two starts of the
    interpreter differ by a few pages (16,383 more was seen), so 64 pages are allowed."""
    idle = measure.measure_step("print('idle')")
    touching = measure.measure_step("b = bytearray(64 << 20)\nprint('touched', len(b))")
    assert idle.last == "idle" and touching.last == f"touched {64 << 20}"
    assert touching.page_faults - idle.page_faults >= (64 << 20) // 4096 - 64


def test_cpu_seconds_are_user_and_system_together_and_follow_the_work(
    measure: ModuleType,
) -> None:
    busy = measure.measure_step("n = sum(i * i for i in range(3_000_000))\nprint(n > 0)")
    assert busy.cpu_seconds == busy.user_seconds + busy.system_seconds
    assert busy.user_seconds > 0.05  # the loop's time is in user code
    assert busy.seconds > 0.05 and busy.last == "True"


def test_run_step_gives_the_seconds_the_peak_and_the_last_line_printed(
    measure: ModuleType,
) -> None:
    seconds, peak, last = measure.run_step("print('one')\nprint('two')")
    assert last == "two" and seconds > 0 and peak > 0


def test_a_failing_step_stops_the_benchmark_with_its_error(measure: ModuleType) -> None:
    with pytest.raises(SystemExit, match="ZeroDivisionError"):
        measure.measure_step("1 / 0")


def test_a_step_writes_and_reads_the_bytecode_cache_as_an_installed_icpkit_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shell that turns Python's bytecode cache off would have every step compile icpkit's
    modules again, which no user's second run pays: the steps run with it on."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    spec = importlib.util.spec_from_file_location("bench_measure_env", BENCH / "measure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    step = module.measure_step("import sys\nprint(sys.flags.dont_write_bytecode)")
    assert step.last == "0"


def test_rounds_alternate_the_order_of_the_steps(measure: ModuleType) -> None:
    names = ["frame", "lift", "derive", "pandas"]
    assert measure.round_order(names, 0) == names
    assert measure.round_order(names, 1) == ["pandas", "derive", "lift", "frame"]
    assert measure.round_order(names, 2) == names


def test_a_steps_rounds_are_told_by_their_median_and_range(measure: ModuleType) -> None:
    assert measure.median([9.0, 12.0, 10.0]) == 10.0
    assert measure.median([9.0, 12.0, 10.0, 11.0]) == 10.5
    assert measure.spread([10.04, 9.1, 11.2]) == "10.0 s (9.1-11.2 s, 3 rounds)"
    assert measure.spread([8.46]) == "8.5 s"
    with pytest.raises(ValueError):
        measure.median([])
