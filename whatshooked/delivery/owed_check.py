"""Is this event still owed to this hook? Asked by a runner before it retries, replays or resumes a job.

The answer must see every write handed over before the question (a delivered mark, a deletion), so
each question is a read of the store, and asked one by one, 100,000 replayed events made 100,000
reads, each forcing its own commit of the marks waiting to share one. Here the questions asked while
a read is out wait for the next one: one read (and one commit before it) answers them all, the way
the store's writer groups writes. Whoever asks still gets the store's answer as of after its question.

A job that will ask is announced when its runner takes it (`ahead`): it joins the next read, so a
recovery's page of a thousand jobs is one read rather than one per few workers, and its worker finds
the answer on the job (`Job.vouched`). That answer still holds when the worker asks, because from
the moment the runner owned the job no other delivery of the event to that hook could start in this
daemon (one job per event and hook), and nothing took rows away: the store's `removals` has not
moved. It is used only within FRESH seconds of the read, which bounds what another daemon sharing
the store could do meanwhile; after that, or after a removal, the worker asks the store again.

One exception to "one job per event and hook": a hook removed and added again while its old runner
still finishes attempts in flight (`retiring`). The old runner may deliver an event the new one holds,
a delivered mark that takes no row away; so no answer read ahead is used for that hook until the old
runner is done, nor any read before then.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from whatshooked.events import Event
from whatshooked.store.base import Store

FRESH = 2.0  # seconds an answer read ahead is used for
AHEAD_READ = 4096  # jobs read ahead per hook in one read; the rest wait for the next, so questions asked
# meanwhile are not held up behind a restart's 100,000 resumed jobs (one read of those: ~0.5 s)


class Vouched(Protocol):
    """A job (delivery/job.py) whose answer can be read ahead: (moves, loop time, owed) once read; moves:
    `removals` plus old runners stopped (`_moved`)."""

    event: Event
    vouched: tuple[int, float, bool] | None


class OwedCheck:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._asked: dict[str, dict[str, list[asyncio.Future[bool]]]] = {}  # hook id -> event id -> askers
        self._ahead: dict[str, list[Vouched]] = {}  # hook id -> jobs owned, to read for before they ask
        self._task: asyncio.Task[None] | None = None
        self._retiring: dict[str, int] = {}  # hook id -> its old runners still stopping
        self._retired = 0  # old runners stopped: each makes the answers read before it stale

    async def owed(self, event_id: str, hook_id: str, job: Vouched | None = None) -> bool:
        """True when the hook is still owed the event (False once delivered, deleted or pruned). With
        the `job` asking, an answer read for it ahead is used once, if it still holds."""
        loop = asyncio.get_running_loop()
        if job is not None and job.vouched is not None:
            removals, read_at, owed = job.vouched
            job.vouched = None
            if removals == self._moved() and hook_id not in self._retiring and loop.time() - read_at <= FRESH:
                return owed
        future: asyncio.Future[bool] = loop.create_future()
        self._asked.setdefault(hook_id, {}).setdefault(event_id, []).append(future)
        self._start(loop)
        owed = await future
        if job is not None:  # an answer read ahead for it meanwhile (the same read, or one out before) is
            job.vouched = None  # no newer than this one: not left for its next question (a retry)
        return owed

    def ahead(self, hook_id: str, job: Vouched) -> None:
        """The hook's runner now owns `job`, which will ask: read for it in the next read."""
        self._ahead.setdefault(hook_id, []).append(job)
        self._start(asyncio.get_running_loop())

    def retiring(self, hook_id: str, stopping: asyncio.Future[Any]) -> None:
        """A removed hook's runner finishes its attempts in flight until `stopping` is done."""
        self._retiring[hook_id] = self._retiring.get(hook_id, 0) + 1
        stopping.add_done_callback(lambda _: self._stopped(hook_id))

    def _stopped(self, hook_id: str) -> None:
        self._retired += 1
        if self._retiring[hook_id] > 1:
            self._retiring[hook_id] -= 1
        else:
            del self._retiring[hook_id]

    def _moved(self) -> int:
        """Moves whenever an answer read before may have gone stale here (both parts only grow)."""
        return self._store.removals + self._retired

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None:
            self._task = loop.create_task(self._answer(), name="whatshooked-owed-check")

    async def _answer(self) -> None:
        asked: dict[str, dict[str, list[asyncio.Future[bool]]]] = {}
        try:
            while self._asked or self._ahead:
                await asyncio.sleep(0)  # the questions of workers that ask in this turn of the loop join
                asked, self._asked = self._asked, {}
                ahead = {hook_id: jobs[:AHEAD_READ] for hook_id, jobs in self._ahead.items()}
                self._ahead = {hook_id: jobs[AHEAD_READ:] for hook_id, jobs in self._ahead.items()
                               if len(jobs) > AHEAD_READ}
                for hook_id in {**asked, **ahead}:
                    by_event, jobs = asked.get(hook_id, {}), ahead.get(hook_id, [])
                    removals, read_at = self._moved(), asyncio.get_running_loop().time()
                    try:
                        owed = await self._store.owed_among(
                            hook_id, list(dict.fromkeys([*by_event, *(job.event.id for job in jobs)])))
                    except Exception as exc:  # the askers' to handle (a store that cannot be read)
                        _tell(by_event, exc=exc)
                    else:
                        _tell(by_event, owed)
                        for job in jobs:
                            job.vouched = (removals, read_at, job.event.id in owed)
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
        self._ahead = {}


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
