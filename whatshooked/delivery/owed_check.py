"""Is this event still owed to this hook? Asked by a runner before it retries, replays or resumes a job.

The answer must see every write handed over before the question (a delivered mark, a deletion), so
each question is a read of the store, and asked one by one, 100,000 replayed events made 100,000
reads, each forcing its own commit of the marks waiting to share one. Here the questions asked while
a read is out wait for the next one: one read (and one commit before it) answers them all, the way
the store's writer groups writes. Whoever asks still gets the store's answer as of after its question.
"""

from __future__ import annotations

import asyncio
import contextlib

from whatshooked.store.base import Store


class OwedCheck:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._asked: dict[str, dict[str, list[asyncio.Future[bool]]]] = {}  # hook id -> event id -> askers
        self._task: asyncio.Task[None] | None = None

    async def owed(self, event_id: str, hook_id: str) -> bool:
        """True when the hook is still owed the event (False once delivered, deleted or pruned)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(hook_id, {}).setdefault(event_id, []).append(future)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._answer(), name="whatshooked-owed-check")
        return await future

    async def _answer(self) -> None:
        asked: dict[str, dict[str, list[asyncio.Future[bool]]]] = {}
        try:
            while self._asked:
                await asyncio.sleep(0)  # the questions of workers that ask in this turn of the loop join
                asked, self._asked = self._asked, {}
                for hook_id, by_event in asked.items():
                    try:
                        owed = await self._store.owed_among(hook_id, list(by_event))
                    except Exception as exc:  # the askers' to handle (a store that cannot be read)
                        _tell(by_event, exc=exc)
                    else:
                        _tell(by_event, owed)
        finally:
            self._task = None
            _cancel(asked)  # cancelled (shutdown): nobody is left waiting for an answer
            self._drop()

    async def close(self) -> None:
        """Stop answering (shutdown): a question still out is cancelled."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None  # a task cancelled before its first step ran no `finally`
        self._drop()

    def _drop(self) -> None:
        _cancel(self._asked)
        self._asked = {}


def _cancel(asked: dict[str, dict[str, list[asyncio.Future[bool]]]]) -> None:
    for by_event in asked.values():
        for futures in by_event.values():
            for future in futures:
                future.cancel()


def _tell(by_event: dict[str, list[asyncio.Future[bool]]], owed: set[str] | None = None,
          exc: Exception | None = None) -> None:
    for event_id, futures in by_event.items():
        for future in futures:
            if future.done():  # its asker was cancelled meanwhile
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(owed is not None and event_id in owed)
