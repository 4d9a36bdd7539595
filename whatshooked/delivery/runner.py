"""One hook's delivery lane: a queue, `delivery.concurrency` workers, and timers for waiting retries.

The runner owns at most one job per event, whether queued, in flight or waiting for its next
attempt, so a replay or a recovery never sends the same event to the same hook twice at once.
It owns each job's fate too: an attempt, then delivered, a retry scheduled, or given up, each
recorded in the store; the dispatcher only routes events to runners (and what they report back).

A reload reaches a live runner through `configure`: the new definition (url, method, headers,
secret) is read at each attempt's start, the worker count follows the new limit in place (more
workers, or surplus ones retiring after their current job), and an inactive hook keeps its jobs
but starts no attempt until it is active again. Attempts in flight always finish as they started.
"""

from __future__ import annotations

import asyncio
import logging
import time

from whatshooked.config.model import HookConfig
from whatshooked.delivery.attempt import Outcome, attempt
from whatshooked.delivery.backoff import next_wait
from whatshooked.delivery.job import Job, Lanes
from whatshooked.delivery.meters import HookMeters
from whatshooked.delivery.ordered import ChatLines
from whatshooked.delivery.routing import Route
from whatshooked.delivery.signer import signer_for
from whatshooked.errors import StoreError
from whatshooked.events import Event

log = logging.getLogger(__name__)

__all__ = ["HookRunner", "Job"]


class HookRunner:
    def __init__(self, hook: HookConfig, concurrency: int, lanes: Lanes, meters: HookMeters) -> None:
        self.hook = hook
        self.meters = meters
        self.jobs: dict[str, Job] = {}
        self.failing: bool | None = None  # None: unknown yet; the first success checks the store once
        self._limit = concurrency
        self._lanes = lanes
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._workers: set[asyncio.Task[None]] = set()  # the workers that count against the limit
        self._busy: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # every worker not finished yet, retired ones too
        self._spawned = 0
        self._stopping = False
        self._lines = ChatLines()  # `ordered: true`: one chat's jobs one at a time (ordered.py)

    @property
    def hook(self) -> HookConfig:
        return self._hook

    @hook.setter
    def hook(self, hook: HookConfig) -> None:
        self._hook = hook
        self.key = signer_for(hook)  # signing keys, decoded once
        self.route = Route.of(hook)  # `accounts` and `chats` (routing.py)

    @property
    def concurrency(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return len(self._busy)

    def configure(self, hook: HookConfig, concurrency: int) -> None:
        """Take a changed definition or limit for the next attempts; attempts in flight are left alone."""
        was_active, was_limit = self._hook.active, self._limit
        self.hook = hook
        self._limit = concurrency
        if was_active and not hook.active:
            log.info("hook %s is inactive: %d deliveries wait until it is active again", hook.id, len(self.jobs),
                     extra={"hook_id": hook.id})
        elif hook.active and not was_active:
            for job in self.jobs.values():
                job.paused = True
            log.info("hook %s is active again: %d deliveries resume", hook.id, len(self.jobs),
                     extra={"hook_id": hook.id})
        if concurrency != was_limit:
            log.info("hook %s: concurrency %d -> %d", hook.id, was_limit, concurrency, extra={"hook_id": hook.id})
        if not hook.ordered:
            for job in self._lines.release():
                self._enqueue(job)
        self._fit()

    def submit(self, job: Job) -> bool:
        """Queue a job unless this hook already has one for the event (then False)."""
        if self._stopping or job.event.id in self.jobs:
            return False
        self._own(job)
        if _asks(job):
            self._lanes.owed.ahead(self._hook.id, job)  # owned now: its answer can be read with others'
        self._enqueue(job)
        return True

    def replay(self, event: Event, body: bytes) -> asyncio.Future[bool]:
        """A future for the next attempt of this event to this hook: a one-shot job, or the one already owned."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        job = self.jobs.get(event.id)
        if job is not None:
            job.waiters.append(future)
            self.hurry(job)
            return future
        job = Job(event, body, single=True, waiters=[future])
        if not self.submit(job):
            job.settle(False)
        return future

    def submit_later(self, job: Job, wait: float) -> bool:
        """Own a job whose next attempt is due in `wait` seconds (now, when not positive)."""
        if wait <= 0:
            return self.submit(job)
        if self._stopping or job.event.id in self.jobs:
            return False
        self._own(job)
        self.later(job, wait)
        return True

    def _own(self, job: Job) -> None:
        self.jobs[job.event.id] = job
        if self._hook.ordered:
            self._lines.join(job)

    def later(self, job: Job, wait: float) -> None:
        """Run the job's next attempt after `wait` seconds (it stays owned meanwhile)."""
        if self._stopping:
            return
        job.timer = asyncio.get_running_loop().call_later(wait, self._wake, job)

    def hurry(self, job: Job) -> bool:
        """Move a waiting job to the queue now; False if it was not waiting."""
        if job.timer is None:
            return False
        job.timer.cancel()
        self._wake(job)
        return True

    def waiting(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.timer is not None]

    def finish(self, job: Job) -> None:
        job.vouched = None  # an answer holds only while the job is owned
        if self.jobs.get(job.event.id) is job:
            del self.jobs[job.event.id]
            follower = self._lines.leave(job)
            if follower is not None and not self._stopping:
                self._enqueue(follower)  # the next event of an ordered hook's chat

    def _wake(self, job: Job) -> None:
        job.timer = None
        if not self._stopping:
            self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        if self._hook.ordered and self._lines.hold(job):
            return  # parked until the job before it in its chat is done
        self._queue.put_nowait(job)
        if len(self._workers) < self._target:
            self._fit()

    # -- workers -------------------------------------------------------------
    @property
    def _target(self) -> int:
        """How many workers should take jobs: none while the hook is inactive or stopping."""
        return 0 if self._stopping or not self._hook.active else self._limit

    def _fit(self) -> None:
        """Start or retire workers to meet the target. Idle ones retire now, busy ones after their job.

        Workers start lazily, with the first job, and then stay (idle workers cost nothing but memory).
        """
        surplus = len(self._workers) - self._target
        if surplus > 0:
            for task in list(self._workers - self._busy)[:surplus]:
                self._workers.discard(task)  # at once, so busy workers do not retire in its stead
                task.cancel()  # it waits in queue.get(), which leaves the queue intact when cancelled
        elif surplus < 0 and (self._workers or not self._queue.empty()):
            loop = asyncio.get_running_loop()
            for _ in range(-surplus):
                self._spawned += 1
                task = loop.create_task(self._work(), name=f"whatshooked-hook-{self._hook.id}-{self._spawned}")
                self._workers.add(task)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            while task in self._workers and len(self._workers) <= self._target:  # surplus: retire between jobs
                job = await self._queue.get()
                self._busy.add(task)
                try:
                    await self._run(job)
                except StoreError as exc:  # the store cannot take writes: logged once, naming storage.path
                    log.warning("hook %s: event %s not recorded: %s", self._hook.id, job.event.id, type(exc).__name__,
                                extra={"hook_id": self._hook.id, "event_id": job.event.id})
                    self.finish(job)
                    job.settle(False)
                except Exception:  # a worker must survive anything one delivery does
                    log.exception("hook %s: delivering event %s failed unexpectedly", self._hook.id, job.event.id,
                                  extra={"hook_id": self._hook.id, "event_id": job.event.id})
                    self.finish(job)
                    job.settle(False)
                finally:
                    self._busy.discard(task)
        finally:
            self._workers.discard(task)

    # -- a job's fate ----------------------------------------------------------
    async def _run(self, job: Job) -> None:
        """One attempt, then what follows from it."""
        lanes, event = self._lanes, job.event
        if _asks(job) and not await lanes.owed.owed(event.id, self._hook.id, job):
            self._done(job, False)
            return
        want_reply = lanes.wants_replies and event.type == "message.received"
        # The hook's definition as it is now (a reload may have changed it while this job waited).
        outcome = await attempt(lanes.http, self._hook, self.key, event, job.body, lanes.limits(self._hook),
                                want_reply, lanes.config.server.max_body)
        if outcome.ok:
            self._delivered(job, outcome)
            return
        lanes.health.failed(self._hook.id, outcome.error)
        if not (outcome.retryable and not job.single and await self._retry_later(job, outcome)):
            await self._give_up(job, outcome)

    def _done(self, job: Job, delivered: bool) -> None:
        self.finish(job)
        job.settle(delivered)

    def _delivered(self, job: Job, outcome: Outcome) -> None:
        hook_id, event = self._hook.id, job.event
        self.meters.delivered.inc()
        self.meters.observe_latency(job, self._lanes.store.persistent)
        # The worker need not wait for the commit; the attempt's record goes with the mark.
        self._lanes.store.mark_delivered_soon(event.id, hook_id, outcome.record(hook_id))
        self._done(job, True)
        self._lanes.health.succeeded(hook_id)
        if outcome.reply is not None:
            self._lanes.on_reply(event, outcome.reply, hook_id)
        if self.failing is not False and not self._lanes.closing():
            self.failing = False
            self._lanes.on_answering(hook_id)

    async def _retry_later(self, job: Job, outcome: Outcome) -> bool:
        """Schedule the next attempt; False when the waits have run out."""
        wait = next_wait(self._lanes.waits(self._hook), job.attempts + 1, outcome.retry_after)
        if wait is None:
            return False
        job.attempts += 1
        hook_id, event = self._hook.id, job.event
        self.failing = True
        self.meters.retry.inc()
        log.debug("hook %s: event %s attempt %d failed (%s); next attempt in %.1fs",
                  hook_id, event.id, job.attempts, outcome.error, wait,
                  extra={"hook_id": hook_id, "event_id": event.id})
        await self._lanes.store.mark_attempt(event.id, hook_id, job.attempts, time.time() + wait, outcome.error,
                                             outcome.record(hook_id))
        job.settle(False)
        self.later(job, wait)
        return True

    async def _give_up(self, job: Job, outcome: Outcome) -> None:
        hook_id, event, store = self._hook.id, job.event, self._lanes.store
        if outcome.retryable:
            self.failing = True
        self.meters.failed.inc()
        kept = "kept in the cache" if store.persistent else "dropped (message_cache is disabled)"
        # Per event at debug level: the hook's health says it once (health.py).
        if job.single:
            log.debug("hook %s: replay of event %s failed (%s); %s", hook_id, event.id, outcome.error, kept,
                        extra={"hook_id": hook_id, "event_id": event.id})
        elif outcome.retryable:
            log.debug("hook %s: gave up on event %s after %d attempts (%s); %s",
                        hook_id, event.id, job.attempts + 1, outcome.error, kept,
                        extra={"hook_id": hook_id, "event_id": event.id})
        else:
            log.debug("hook %s: refused event %s (%s), not retried; %s", hook_id, event.id, outcome.error, kept,
                        extra={"hook_id": hook_id, "event_id": event.id})
        await store.mark_given_up(event.id, hook_id, outcome.error, outcome.retryable, outcome.record(hook_id))
        self._done(job, False)

    async def stop(self, grace: float | None) -> int:
        """Stop taking jobs; let attempts in flight finish for up to `grace` seconds (None: as long as
        they take), then cancel them.

        Returns how many jobs were left unfinished (their rows stay pending in the store).
        """
        self._stopping = True
        for job in self.jobs.values():
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
        self._fit()  # the target is 0: idle workers go now
        if self._busy and (grace is None or grace > 0):
            await asyncio.wait(set(self._busy), timeout=grace)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        left = len(self.jobs)
        for job in self.jobs.values():
            job.settle(False)
        self.jobs.clear()
        self._lines.release()
        return left


def _asks(job: Job) -> bool:
    """Only a job fresh from its event's commit is surely owed: any other (a retry, a replay, a recovery)
    may find its row delivered by another replay, or deleted, pruned or cleared while it waited."""
    return bool(job.attempts or job.paused or job.committed_at is None)
