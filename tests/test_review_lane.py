"""Review of the store writer's own thread (store/sqlite/lane.py): errors, shutdown, a loop gone."""

from __future__ import annotations

import asyncio
import threading

import pytest

from whatshooked.store.sqlite.lane import ThreadLane


async def test_a_call_raising_stopiteration_fails_its_caller_instead_of_hanging_it() -> None:
    lane = ThreadLane("test-lane-stop")
    try:
        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(lane.call(next, iter(())), 5)
        assert await lane.call(lambda: "still serving") == "still serving"
    finally:
        lane.shutdown()


async def test_a_call_after_shutdown_is_refused_not_left_waiting() -> None:
    lane = ThreadLane("test-lane-after")
    assert await lane.call(lambda: 1) == 1
    lane.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await asyncio.wait_for(lane.call(lambda: 2), 5)


async def test_shutdown_while_a_call_runs_waits_for_it_and_its_caller_gets_the_result() -> None:
    lane = ThreadLane("test-lane-busy")
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "finished"

    waiter = asyncio.ensure_future(lane.call(slow))
    await asyncio.to_thread(started.wait, 5)
    stopping = asyncio.ensure_future(asyncio.to_thread(lane.shutdown))
    release.set()
    await stopping
    assert await waiter == "finished"
    assert not any(thread.name == "test-lane-busy" for thread in threading.enumerate())


def test_a_reply_to_a_loop_already_closed_is_dropped_quietly() -> None:
    lane = ThreadLane("test-lane-closed")
    started, release, replied = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "late"

    async def leave_early() -> None:
        waiter = asyncio.ensure_future(lane.call(slow))
        await asyncio.to_thread(started.wait, 5)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(leave_early())  # the loop is closed when slow() returns
    release.set()

    async def after() -> str:
        result: str = await lane.call(lambda: "next")
        replied.set()
        return result

    assert asyncio.run(after()) == "next" and replied.is_set()
    lane.shutdown()
