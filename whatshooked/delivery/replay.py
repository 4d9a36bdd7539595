"""Replays: automatic when a failing hook answers 2xx again, manual through `/api/cache/replay*`.

A manual replay sends each kept event once (no retry schedule) to every active hook that matches
it now and does not have it yet. When all of them answer 2xx the event leaves the cache, together
with rows for hooks that were removed or no longer match; otherwise it stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from whatshooked.delivery.job import Job
from whatshooked.delivery.runner import HookRunner
from whatshooked.events import Event
from whatshooked.store.base import Store

log = logging.getLogger(__name__)

REPLAY_PAGE = 256  # events replayed side by side by replay_all (each hook's concurrency still applies)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int  # events sent to at least one hook
    delivered: int  # of those, events every target took (they left the cache)
    failed: int  # of those, events some target did not take (they stay)
    remaining_cached: int


class Replayer:
    """Reads the store; `matching(event)` gives the runners an event goes to now (the dispatcher's)."""

    def __init__(
        self, store: Store, matching: Callable[[Event], list[HookRunner]], closing: Callable[[], bool]
    ) -> None:
        self._store = store
        self._matching = matching
        self._closing = closing

    async def recover(self, runner: HookRunner) -> None:
        """The hook answered 2xx: send what it is owed now, oldest first.

        That is every row whose retries ran out on errors worth retrying (not the 4xx it refused),
        then every retry still waiting for its time.
        """
        hook_id = runner.hook.id
        for row in await self._store.given_up_for(hook_id):
            event = row.event
            if event.id not in runner.jobs and runner.submit(Job(event, row.body)):
                runner.meters.replays.inc()
                log.info("hook %s answers again: replaying event %s (%s)", hook_id, event.id, event.type,
                         extra={"hook_id": hook_id, "event_id": event.id})
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
        delivered, _ = await self._replay(Event.from_json(body), body)
        return delivered

    async def replay_all(self) -> ReplayResult:
        store = self._store
        replayed = delivered = 0
        position = 0
        while True:
            page = await store.cached_after(position, REPLAY_PAGE)  # the cache: undelivered events
            if not page:
                break
            position = page[-1][0]
            outcomes = await asyncio.gather(*(self._replay(event, body) for _, event, body in page))
            replayed += sum(1 for _, attempted in outcomes if attempted)
            delivered += sum(1 for ok, _ in outcomes if ok)
        result = ReplayResult(replayed, delivered, replayed - delivered, store.count)
        log.info("replayed %d cached events: %d delivered, %d failed, %d still cached",
                 result.replayed, result.delivered, result.failed, result.remaining_cached)
        return result

    async def _replay(self, event: Event, body: bytes) -> tuple[bool, bool]:
        """(delivered to every target, attempted at all)."""
        store = self._store
        rows = {row.hook_id: row.state for row in await store.deliveries_of(event.id)}
        targets = [r for r in self._matching(event) if rows.get(r.hook.id) != "delivered"]
        if not targets or self._closing():
            return False, False
        missing = [runner.hook.id for runner in targets if runner.hook.id not in rows]
        if missing:
            await store.add_deliveries(event.id, missing)
        for runner in targets:
            runner.meters.replays.inc()
            log.debug("replaying event %s (%s) to hook %s", event.id, event.type, runner.hook.id,
                      extra={"event_id": event.id, "hook_id": runner.hook.id})
        results = await asyncio.gather(*(runner.replay(event, body) for runner in targets))
        if all(results):
            await store.finish_event(event.id)
        return all(results), True
