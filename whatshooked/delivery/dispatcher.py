"""Fan events out to hooks, durably (DESIGN §5).

    dispatcher = Dispatcher(config, store, metrics, reply_handler=None)   owns the hooks' connections
    await dispatcher.start()          resume what the store holds pending; start cache pruning
    await dispatcher.publish(event, dedupe_key=None) -> bool
                                      returns once the event is committed (at once with cache off);
                                      False when `dedupe_key` was seen before (nothing stored or sent)
    dispatcher.set_hooks(hooks)       after API changes or a reload; apply_config(config) for all of it;
                                      every setting applies from the next attempt (runner.py)
    await dispatcher.replay_all() -> ReplayResult(replayed, delivered, failed, remaining_cached)
    await dispatcher.replay_event(event_id) -> bool   True when every target hook now has it
    await dispatcher.prune() -> {"max_age": n, "max_events": m}
    await dispatcher.close(deadline)  `deadline` = seconds to let attempts in flight finish

Each event/hook pair is one job in that hook's runner, which owns its fate (runner.py): attempts and
the next attempt's time are written to the store after every failure, so a restart picks up where
the last run stopped. The dispatcher routes: events to runners, replies and recoveries back out.
Given-up rows stay in the store (the cache) until a replay delivers them: automatically, oldest
first, when the hook answers 2xx again; or manually through `/api/cache/replay*`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from whatshooked.config.model import Config, HookConfig
from whatshooked.delivery.health import Health
from whatshooked.delivery.hook_events import HookEvents
from whatshooked.delivery.hook_http import HookHttp
from whatshooked.delivery.job import Job, Lanes
from whatshooked.delivery.meters import HookMeters
from whatshooked.delivery.replay import Replayer, ReplayResult
from whatshooked.delivery.replay_jobs import ReplayJobs
from whatshooked.delivery.runner import HookRunner
from whatshooked.errors import StoreError
from whatshooked.events import Event, event_matches, with_seq
from whatshooked.service.metrics import Metrics
from whatshooked.store.base import Store

log = logging.getLogger(__name__)

ReplyHandler = Callable[[Event, list[dict[str, Any]]], Awaitable[None]]
PRUNE_INTERVAL = 60.0  # seconds between max_age sweeps (max_events is enforced as events arrive)

__all__ = ["Dispatcher", "ReplayResult", "ReplyHandler"]


@dataclass
class _Tasks:
    """A set of background tasks the dispatcher owns; each removes itself when done."""

    running: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        task.add_done_callback(_report)
        return task

    async def wait_named(self, names: set[str]) -> None:
        """Wait for the tasks of these names to end, without cancelling them."""
        tasks = [task for task in self.running if task.get_name() in names]
        if tasks:
            await asyncio.wait(tasks)

    async def finish(self, grace: float) -> None:
        """Give the tasks `grace` seconds, then cancel what is left and wait for it."""
        tasks = list(self.running)
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _report(task: asyncio.Task[Any]) -> None:
    """A background task's failure, said once (a store that cannot take writes was logged by its guard)."""
    exc = None if task.cancelled() else task.exception()
    if isinstance(exc, StoreError):
        log.warning("%s stopped: the store cannot take writes (%s)", task.get_name(), type(exc).__name__)
    elif exc is not None:
        log.error("%s failed", task.get_name(), exc_info=exc)


def _stop_name(hook_id: str) -> str:
    return f"whatshooked-stop-{hook_id}"


class Dispatcher:
    def __init__(
        self, config: Config, store: Store, metrics: Metrics, reply_handler: ReplyHandler | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._metrics = metrics
        self._reply_handler = reply_handler
        self._lanes = Lanes(config, store, HookHttp(), reply_handler is not None, self._hand_reply, self._answering,
                            lambda: self._closing)
        self._runners: dict[str, HookRunner] = {}
        self._chores = _Tasks()  # pruning, resuming, recovering: cancelled at close
        self._retiring = _Tasks()  # runners of removed hooks, stopping
        self._replies = _Tasks()  # two-way replies: given what is left of the deadline at close
        self._prune_soon = asyncio.Event()
        self._started = False
        self._closing = False
        self._replayer = Replayer(store, self.matching, lambda: self._closing, lambda: self.hooks.keys())
        self.replays = ReplayJobs(self._replayer, self._chores.spawn)  # manual replays, followed by id
        self.health = Health(HookEvents(store, self.matching, self._runners.get, self.publish, self._chores.spawn,
                                        lambda: self._closing))
        self._lanes.health = self.health
        self.set_hooks(config.hooks)

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        self._started = True
        self._store.set_keep_delivered(self._config.message_cache.keep_delivered)
        self._store.on_count(self._metrics.cache_size.set)
        await self._resume(list(self._runners))
        self._chores.spawn(self._prune_loop(), "whatshooked-cache-prune")

    async def close(self, deadline: float = 5.0) -> None:
        """Stop taking work; attempts in flight get `deadline` seconds, then are cancelled.

        Whatever is not delivered stays pending in the store, to be resumed by the next start().
        """
        self._closing = True
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        await self._chores.finish(0)
        stopping = asyncio.gather(*(runner.stop(deadline) for runner in self._runners.values()))
        await self._retiring.finish(deadline)
        left = sum(await stopping)
        await self._lanes.owed.close()
        await self._replies.finish(end - loop.time())
        if left:
            where = "kept in the store for the next start" if self._store.persistent else \
                "dropped (message_cache is disabled)"
            log.info("%d deliveries not finished at shutdown: %s", left, where)
        await self._lanes.http.close()
        self._store.on_count(None)

    def apply_config(self, config: Config) -> None:
        """Take a reloaded config. Every setting applies from the next attempt; none restarts one in flight."""
        self._config = config
        self._store.set_keep_delivered(config.message_cache.keep_delivered)
        self._lanes.follow(config)
        self.set_hooks(config.hooks)

    def set_hooks(self, hooks: tuple[HookConfig, ...]) -> None:
        """Follow the hooks as now defined (API changes, reloads).

        A changed or deactivated hook keeps its runner and queue (HookRunner.configure); a removed one
        stops taking jobs, its attempts in flight finish, and its rows stay in the store.
        """
        wanted = {hook.id: hook for hook in hooks}
        for hook_id in [h for h in self._runners if h not in wanted]:
            runner = self._runners.pop(hook_id)
            self.health.forget(hook_id)
            stopping = self._retiring.spawn(runner.stop(None), _stop_name(hook_id))
            self._lanes.owed.retiring(hook_id, stopping)  # it may deliver what a re-added runner holds
        added: list[str] = []
        concurrency = self._config.delivery.concurrency
        for hook in wanted.values():
            current = self._runners.get(hook.id)
            if current is not None:
                current.configure(hook, concurrency)
            elif hook.active:
                meters = HookMeters.of(self._metrics, hook.id)
                self._runners[hook.id] = HookRunner(hook, concurrency, self._lanes, meters)
                added.append(hook.id)
        if added and self._started and not self._closing:
            self._chores.spawn(self._resume(added), "whatshooked-resume")

    @property
    def hooks(self) -> dict[str, HookRunner]:
        return self._runners

    @property
    def lanes(self) -> Lanes:
        """Where attempts go out (the HTTP client and timeout), for a test send (probe.py)."""
        return self._lanes

    @property
    def store(self) -> Store:
        return self._store

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def closing(self) -> bool:
        return self._closing

    # -- publishing --------------------------------------------------------
    async def publish(self, event: Event, dedupe_key: str | None = None, skip: str | None = None) -> bool:
        """Commit the event, then hand it to every active hook that wants it.

        With `dedupe_key` (e.g. Meta's message id) the key is recorded in the event's own commit, so a
        crash loses both or neither; a key recorded before makes this a duplicate: nothing is stored
        or delivered, and the answer is False.
        """
        runners = [runner for runner in self.matching(event) if runner.hook.id != skip]
        body = event.to_json()
        try:
            committed = self._store.add_event_soon(
                event, [runner.hook.id for runner in runners], body,
                after=partial(self._committed, event, body, runners), dedupe_key=dedupe_key,
            )
        except StoreError:
            if not self._closing:
                raise
            log.warning("event %s (%s) arrived after shutdown began and was not kept", event.id, event.type,
                        extra={"event_id": event.id})
            return True  # not a duplicate: lost to the shutdown, as logged
        # The hand-off to hooks runs from the commit (`after`), so a caller cancelled here loses nothing.
        return bool(await committed)

    def _committed(self, event: Event, body: bytes, runners: list[HookRunner], seq: int) -> None:
        """Hooks receive the event with the seq its commit gave it."""
        event, body = Event(event.type, event.data, event.id, event.timestamp, seq), with_seq(body, seq)
        if self._store.count > self._config.message_cache.max_events:
            self._prune_soon.set()
        # The latency metric runs from the commit; with nothing kept there is none to measure from.
        committed_at = asyncio.get_running_loop().time() if self._store.persistent else None
        self._dispatch(event, body, committed_at, runners)

    def _dispatch(self, event: Event, body: bytes, committed_at: float | None, runners: list[HookRunner]) -> None:
        if self._closing:
            return
        for runner in runners:
            if self._runners.get(runner.hook.id) is runner:
                runner.submit(Job(event, body, committed_at=committed_at))

    def matching(self, event: Event | str) -> list[HookRunner]:
        """The active hooks an event goes to: by its type's name, and (given the event) `accounts` and `chats`."""
        event_type = event if isinstance(event, str) else event.type
        return [
            runner for runner in self._runners.values()
            if runner.hook.active and event_matches(runner.hook.events, event_type)
            and (isinstance(event, str) or runner.route.accepts(event))
        ]

    # -- what runners report back ---------------------------------------------
    def _answering(self, hook_id: str) -> None:
        runner = self._runners.get(hook_id)
        if runner is not None:
            self._chores.spawn(self._replayer.recover(runner), f"whatshooked-recover-{hook_id}")

    def _hand_reply(self, event: Event, reply: Any, hook_id: str) -> None:
        send = reply.get("send") if isinstance(reply, dict) else None
        if send is None:
            return
        items = send if isinstance(send, list) else [send]
        good = [item for item in items if isinstance(item, dict)]
        if len(good) != len(items):
            log.warning("hook %s: ignored %d reply items that are not objects", hook_id, len(items) - len(good),
                        extra={"hook_id": hook_id})
        if good and self._reply_handler is not None:
            self._replies.spawn(self._reply(event, good, hook_id), "whatshooked-reply")

    async def _reply(self, event: Event, items: list[dict[str, Any]], hook_id: str) -> None:
        assert self._reply_handler is not None
        try:
            await self._reply_handler(event, items)
        except Exception:
            log.exception("hook %s: sending its reply to event %s failed", hook_id, event.id,
                          extra={"hook_id": hook_id, "event_id": event.id})

    # -- resume, replay, prune ---------------------------------------------
    async def _resume(self, hook_ids: list[str]) -> None:
        """Reschedule rows still in their retry schedule (e.g. after a restart)."""
        # A hook re-added while its old runner still finishes an attempt: let that settle and be recorded.
        await self._retiring.wait_named({_stop_name(hook_id) for hook_id in hook_ids})
        rows = await self._store.pending(hook_ids)
        now = time.time()
        for row in rows:
            runner = self._runners.get(row.hook_id)
            if runner is None or row.event.id in runner.jobs:
                continue
            runner.submit_later(Job(row.event, row.body, attempts=row.attempts), row.next_attempt_at - now)
        if rows:
            log.info("resumed %d pending deliveries", len(rows))

    async def replay_all(self) -> ReplayResult:
        return await self._replayer.replay_all()

    async def replay_event(self, event_id: str) -> bool:
        return await self._replayer.replay_event(event_id)

    async def prune(self) -> dict[str, int]:
        cache = self._config.message_cache
        dropped = await self._store.prune(cache.max_age, cache.max_events)
        for reason, count in dropped.items():
            if count:
                self._metrics.dropped.labels(reason).inc(count)
                log.warning("dropped %d undelivered events from the cache (message_cache.%s)", count, reason)
        return dropped

    async def _prune_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._prune_soon.wait(), PRUNE_INTERVAL)
            except TimeoutError:
                pass
            self._prune_soon.clear()
            try:
                await self.prune()
            except StoreError as exc:
                log.warning("cache pruning skipped: %s", exc)
