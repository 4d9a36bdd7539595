"""The store writer's own thread (store/sqlite/lane.py): in order, errors handed back, shutdown joins."""

from __future__ import annotations

import asyncio
import threading

import pytest

from whatshooked.store.sqlite.lane import ThreadLane


async def test_calls_run_in_the_lanes_thread_in_order_and_errors_come_back() -> None:
    lane = ThreadLane("test-lane")
    seen: list[tuple[int, str]] = []

    def note(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 2

    assert await asyncio.gather(*(lane.call(note, n) for n in range(50))) == [n * 2 for n in range(50)]
    assert seen == [(n, "test-lane") for n in range(50)]
    with pytest.raises(ZeroDivisionError):
        await lane.call(lambda: 1 / 0)
    assert await lane.call(note, 7) == 14  # the thread survived the error
    lane.shutdown()
    assert not any(thread.name == "test-lane" for thread in threading.enumerate())


async def test_a_cancelled_caller_does_not_stop_a_call_begun_nor_the_lane() -> None:
    lane = ThreadLane("test-lane")
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        done.set()
        return "finished"

    waiter = asyncio.ensure_future(lane.call(slow))
    await asyncio.to_thread(started.wait, 5)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    assert await lane.call(lambda: "next") == "next" and done.is_set()
    lane.shutdown()


def test_a_lane_never_called_has_no_thread_to_stop() -> None:
    lane = ThreadLane("test-lane-unused")
    lane.shutdown()
    assert not any(thread.name == "test-lane-unused" for thread in threading.enumerate())
