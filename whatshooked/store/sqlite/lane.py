"""The writer's own thread: calls run one at a time, in order, and their results come back to the loop.

A ThreadPoolExecutor round trip (a work item, a concurrent Future, asyncio's wrapper future and two
condition variables) cost the loop and the thread ~90 µs of CPU per commit; a queue and one
`call_soon_threadsafe` cost ~30. At a paced 1,000 events/s most commits hold one event, so that
difference is a tenth of an event's whole cost (bench/relay.py).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

_Call = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]


class ThreadLane:
    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # A daemon thread: a process that ends without closing the store must not hang on it, and
        # SQLite's journal leaves the file whole wherever a transaction is cut.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)  # started by the first call
        self._stopped = False

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` in the lane's thread; a cancelled caller does not stop a call begun."""
        if self._stopped:  # nobody would serve it: refused, as an executor's submit after shutdown
            raise RuntimeError(f"{self._thread.name} is shut down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._thread.ident is None:
            self._thread.start()
        self._calls.put((loop, future, function, args))
        return await future

    def shutdown(self) -> None:
        """Let the calls already queued finish, then end the thread (blocks until then)."""
        self._stopped = True
        if self._thread.ident is not None:
            self._calls.put(None)
            self._thread.join()

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, function, args = call
            try:
                result = function(*args)
            except StopIteration as exc:  # a future refuses it (TypeError in the loop): its caller would wait forever
                _reply(loop, future, RuntimeError(f"{function!r} raised StopIteration: {exc!r}"), failed=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, as an executor would
                _reply(loop, future, exc, failed=True)
            else:
                _reply(loop, future, result, failed=False)


def _reply(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, value, failed)
    except RuntimeError:  # the loop is closed: nobody is left to tell
        pass


def _settle(future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    if future.done():  # its caller was cancelled
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)
