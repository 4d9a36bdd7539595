"""Replays: automatic when a failing hook answers 2xx again, manual through `/api/cache/replay*`.

A manual replay sends each kept event once (no retry schedule) to every active hook that matches
it now and does not have it yet. When all of them answer 2xx the event leaves the cache, together
with rows for hooks that were removed or no longer match; otherwise it stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any

from whatshooked.delivery.job import Job
from whatshooked.delivery.replay_filter import Progress, ReplayFilter
from whatshooked.delivery.runner import HookRunner
from whatshooked.events import Event
from whatshooked.store.base import DeliveryRow, Store

log = logging.getLogger(__name__)

REPLAY_PAGE = 1024  # events replayed side by side by replay_all (each hook's concurrency still applies)
RECOVER_PAGE = 1000  # rows read at once by recover...
RECOVER_AHEAD = 2  # ...with at most this many more pages queued while one is attempted
COUNT_PAGE = 10_000  # seqs read at once to count what a replay without event filters selects
DELIVERED, FAILED, SKIPPED = "delivered", "failed", "skipped"  # one event's replay
Outcome = tuple[str, bool]  # one of those, and whether every target took the event in this replay


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int  # events sent to at least one hook
    delivered: int  # of those, events every target took (they left the cache)
    failed: int  # of those, events some target did not take (they stay)
    remaining_cached: int


class Replayer:
    """Reads the store; `matching(event)` gives the runners an event goes to now (the dispatcher's)."""

    def __init__(
        self, store: Store, matching: Callable[[Event], list[HookRunner]], closing: Callable[[], bool],
        configured: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self._store = store
        self._matching = matching
        self._closing = closing
        self._configured = configured
        """The ids of every configured hook, active or paused."""

    async def recover(self, runner: HookRunner) -> None:
        """The hook answered 2xx: send what it is owed now, oldest first.

        That is every row whose retries ran out on errors worth retrying (not the 4xx it refused),
        then every retry still waiting for its time.
        """
        hook_id = runner.hook.id
        replayed = after = 0
        ahead: deque[list[asyncio.Future[bool]]] = deque()  # each page's jobs' next attempts, oldest first
        while True:  # in pages, so the first ones are on their way while the rest are read...
            page = await self._store.given_up_for(hook_id, after, RECOVER_PAGE)
            attempts: list[asyncio.Future[bool]] = []
            for row in page:
                event = row.event
                job = Job(event, row.body, waiters=[asyncio.get_running_loop().create_future()])
                if event.id not in runner.jobs and runner.submit(job):
                    attempts += job.waiters
            if attempts:
                runner.meters.replays.inc(len(attempts))  # once a page: the counter takes a lock each time
                replayed += len(attempts)
            last = page[-1].event.seq if page else None
            if len(page) < RECOVER_PAGE or last is None or self._closing():
                break
            after = last
            ahead.append(attempts)
            if len(ahead) > RECOVER_AHEAD:  # ...and only so many ahead of the attempts (memory stays bounded)
                oldest = ahead.popleft()
                if oldest:
                    await asyncio.wait(oldest)
        if replayed:
            log.info("hook %s answers again: replaying %d events it was owed, oldest first", hook_id, replayed,
                     extra={"hook_id": hook_id})
        waiting = sorted(runner.waiting(), key=lambda job: job.event.id)  # ids are time-ordered
        for job in waiting:
            runner.hurry(job)
        if waiting:
            log.info("hook %s answers again: %d waiting retries sent now", hook_id, len(waiting),
                     extra={"hook_id": hook_id})

    async def replay_event(self, event_id: str) -> bool:
        """True when every target hook took the event (it left the cache); False otherwise or if unknown."""
        body = await self._store.get_body(event_id)
        if body is None:
            return False
        return await self._replay_page([(Event.from_json(body), body)]) == [DELIVERED]

    async def replay_all(self) -> ReplayResult:
        return await self.replay_matching(ReplayFilter())

    async def replay_matching(self, wanted: ReplayFilter, progress: Progress | None = None) -> ReplayResult:
        """Every kept event `wanted` selects, oldest first, a page (REPLAY_PAGE) side by side; `progress` hears of each
        (first `total`, then each outcome). With `wanted.hook_id`, only to that hook."""
        store = self._store
        positions = await self._count(wanted)
        if progress is not None:
            progress.start(len(positions))
        delivered = failed = seen = 0
        async for page in self._batches(wanted, positions):
            seen += len(page)
            outcomes = await self._replay_page(page, wanted.hook_id, progress)
            delivered += sum(outcome == DELIVERED for outcome in outcomes)
            failed += sum(outcome == FAILED for outcome in outcomes)
        for _ in range(len(positions) - seen):  # left the cache since it was counted: delivered by another replay
            delivered += 1
            if progress is not None:
                progress.step(DELIVERED)
        result = ReplayResult(delivered + failed, delivered, failed, store.count)
        log.info("replayed %d cached events%s: %d delivered, %d failed, %d still cached",
                 result.replayed, wanted.describe(), result.delivered, result.failed, result.remaining_cached)
        return result

    async def _count(self, wanted: ReplayFilter) -> set[int]:
        """Where the selected events stand now; without filters on the events, their bodies are not read."""
        if wanted.by_event:
            return {position async for position, _, _ in self._pages(wanted)}
        positions: set[int] = set()
        after = 0
        while page := await self._store.cached_seqs(after, COUNT_PAGE):
            positions.update(page)
            after = page[-1]
        return positions

    async def _pages(self, wanted: ReplayFilter) -> AsyncIterator[tuple[int, Event, bytes]]:
        position = 0
        while True:
            page = await self._store.cached_after(position, REPLAY_PAGE)  # the cache: undelivered events
            if not page:
                return
            position = page[-1][0]
            for item in page:
                if wanted.selects(item[1]):
                    yield item

    async def _batches(self, wanted: ReplayFilter, positions: set[int]) -> AsyncIterator[list[tuple[Event, bytes]]]:
        """The counted events still kept (those stored since the count are new traffic, not replayed)."""
        batch: list[tuple[Event, bytes]] = []
        async for position, event, body in self._pages(wanted):
            if position in positions:
                batch.append((event, body))
            if len(batch) == REPLAY_PAGE:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _replay_page(self, page: list[tuple[Event, bytes]], hook_id: str | None = None,
                           progress: Progress | None = None) -> list[str]:
        """Each event once to its targets, side by side: the page's rows are read once before (not per
        event) and once after, for the events every target took, to finish those no configured hook owes."""
        rows = await self._store.deliveries_for([event.id for event, _ in page])
        tasks: set[asyncio.Task[Outcome]] = set()  # the rare events that need a read or a write
        try:
            outcomes = await asyncio.gather(*(self._replay(event, body, rows[event.id], hook_id, progress, tasks)
                                              for event, body in page))
        finally:
            for task in tasks:
                task.cancel()
        await self._finish([event.id for (event, _), (_, took) in zip(page, outcomes, strict=True) if took])
        return [outcome for outcome, _ in outcomes]

    def _replay(self, event: Event, body: bytes, rows: list[DeliveryRow], hook_id: str | None,
                progress: Progress | None, tasks: set[asyncio.Task[Outcome]]) -> asyncio.Future[Outcome]:
        """DELIVERED (every target has it now, or it left meanwhile), FAILED, or SKIPPED (no target); and
        whether every target took it in this replay. `rows`: the event's delivery rows, read just before.

        The usual event (its rows there, every target taking it) costs no task of its own: its outcome
        is settled by its attempts' callbacks. `progress` hears of each as it ends."""
        states = {row.hook_id: row.state for row in rows}
        targets = [r for r in self._matching(event) if states.get(r.hook.id) != "delivered"
                   and (hook_id is None or r.hook.id == hook_id)]
        if not targets or self._closing():
            return _settled((SKIPPED, False), progress)
        missing = [runner.hook.id for runner in targets if runner.hook.id not in states]
        if missing:  # rows to add first
            return self._task(tasks, self._send(event, body, targets, missing, progress, tasks))
        return self._attempts(event, body, targets, progress, tasks)

    def _attempts(self, event: Event, body: bytes, targets: list[HookRunner], progress: Progress | None,
                  tasks: set[asyncio.Task[Outcome]]) -> asyncio.Future[Outcome]:
        """One attempt per target; the outcome is settled by their callbacks (a task only for a failure)."""
        for runner in targets:
            runner.meters.replays.inc()
        attempts = [runner.replay(event, body) for runner in targets]
        result: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

        def ended(_: object) -> None:
            if result.done() or not all(attempt.done() for attempt in attempts):
                return
            if all(not attempt.cancelled() and attempt.result() for attempt in attempts):
                _tell(progress, DELIVERED)
                result.set_result((DELIVERED, True))
            else:
                self._task(tasks, self._failed(event, targets, progress)).add_done_callback(
                    lambda done: _pass_on(done, result))

        for attempt in attempts:
            attempt.add_done_callback(ended)
        return result

    @staticmethod
    def _task(tasks: set[asyncio.Task[Outcome]],
              coroutine: Coroutine[Any, Any, Outcome]) -> asyncio.Task[Outcome]:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def _send(self, event: Event, body: bytes, targets: list[HookRunner], missing: list[str],
                    progress: Progress | None, tasks: set[asyncio.Task[Outcome]]) -> Outcome:
        """A target with no row for the event yet (a hook added or re-routed since): its row first."""
        if not await self._store.add_deliveries(event.id, missing):
            _tell(progress, DELIVERED)
            return DELIVERED, False  # it left the cache meanwhile: another replay (or new traffic's recovery) took it
        return await self._attempts(event, body, targets, progress, tasks)

    async def _failed(self, event: Event, targets: list[HookRunner], progress: Progress | None) -> Outcome:
        """Some target did not take it; a job that found its row gone or delivered (another replay got
        there first) reports that too, so the rows say which."""
        owed = {row.hook_id for row in await self._store.deliveries_of(event.id) if row.state != "delivered"}
        outcome = FAILED if any(runner.hook.id in owed for runner in targets) else DELIVERED
        _tell(progress, outcome)
        return outcome, False

    async def _finish(self, event_ids: list[str]) -> None:
        """Finished only when no configured hook is owed it: a paused or re-routed hook (not a target now)
        keeps its row; rows of hooks removed from the config do not hold the event. (The delivered marks
        finish an event with no row left owed by themselves: only the rare others need a write here.)"""
        if not event_ids:
            return
        configured = self._configured()
        for event_id, rows in (await self._store.deliveries_for(event_ids)).items():
            owed = [row for row in rows if row.state != "delivered"]
            if owed and not any(row.hook_id in configured for row in owed):
                await self._store.finish_event(event_id)


def _tell(progress: Progress | None, outcome: str) -> None:
    if progress is not None:
        progress.step(outcome)  # as each one ends, so a slow hook's replay shows it moves


def _settled(outcome: Outcome, progress: Progress | None) -> asyncio.Future[Outcome]:
    _tell(progress, outcome[0])
    future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
    future.set_result(outcome)
    return future


def _pass_on(task: asyncio.Task[Outcome], result: asyncio.Future[Outcome]) -> None:
    if result.done():
        return
    if task.cancelled():
        result.cancel()
    elif task.exception() is not None:
        result.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        result.set_result(task.result())
