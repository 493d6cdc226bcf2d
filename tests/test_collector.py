"""The cycle collector is off while a computation runs and as it was after, however blocks
overlap across threads."""

from __future__ import annotations

import gc
import threading

import pytest

from icpkit.collector import paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_after():
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_turns_it_back_on():
    with pytest.raises(ValueError), paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_off_before_stays_off():
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()


def test_it_is_on_again_only_when_the_last_of_overlapping_blocks_ends():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's block still runs
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_as_a_decorator_each_call_pauses():
    @paused()
    def work() -> bool:
        return gc.isenabled()

    assert work() is False and work() is False
    assert gc.isenabled()
