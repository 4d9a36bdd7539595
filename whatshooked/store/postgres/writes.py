"""The PostgreSQL store's writes in flight, and the barrier reads wait on.

Every write is a task of its own, started when it is handed over (a caller cancelled meanwhile loses
nothing); delivered marks handed over lazily wait up to LAZY_DELAY to go together in one call; events
go through the AddQueue (adds.py). `settled()` returns once every write handed over before it has
finished, so a read sees them all without anyone flushing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg

from whatshooked.errors import StoreError
from whatshooked.store.base import Attempt, StoreUnavailable
from whatshooked.store.postgres.adds import AddQueue, Run
from whatshooked.store.postgres.schema import DELIVERED

log = logging.getLogger(__name__)

LAZY_DELAY = 0.005  # a lazy delivered mark waits this long for company
LAZY_BATCH = 512  # ... or until this many are waiting
UNREACHABLE = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
               asyncpg.exceptions.OperatorInterventionError)  # refused, dropped, server shutting down


class Writes:
    def __init__(self, pool: asyncpg.Pool, where: str, add_batch: Run) -> None:
        self._pool = pool
        self._where = where
        self.adds = AddQueue(add_batch)
        self.fault: str | None = None  # why the last write could not reach the database, until one does
        self.closed = False
        self._inflight: set[asyncio.Task[Any]] = set()
        self.keep_delivered = False  # delivered events stay (marked) rather than go (message_cache.keep_delivered)
        self._marks: list[tuple[str, str]] = []
        self._attempts: list[tuple[str, Attempt]] = []
        self._marks_gone: Callable[[int], None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def refuse_if_closed(self) -> None:
        if self.closed:
            raise StoreError("the store is closed (whatshooked is shutting down)")

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """One statement; an unreachable database is a StoreUnavailable (503), remembered in `fault`."""
        return await self.fetchrow(sql, *args, value=True)

    async def fetchrow(self, sql: str, *args: Any, value: bool = False) -> Any:
        """The same, giving the first row (or with `value`, its first column)."""
        try:
            result = await (self._pool.fetchval if value else self._pool.fetchrow)(sql, *args)
        except UNREACHABLE as exc:
            self.fault = f"PostgreSQL at {self._where} cannot be reached: {exc}"
            raise StoreUnavailable(self.fault) from None
        self.fault = None
        return result

    def start(self, sql: str, *args: Any, after: Callable[[Any], None] | None = None,
              late: bool = False) -> asyncio.Task[Any]:
        """Start one statement now, as a task of its own; `after(result)` on success.

        `late`: handed over before close began (lazy marks), so it still goes."""
        if not late:
            self.refuse_if_closed()
        task = asyncio.get_running_loop().create_task(self._run(sql, args, after))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def _run(self, sql: str, args: tuple[Any, ...], after: Callable[[Any], None] | None) -> Any:
        result = await self.fetchval(sql, *args)
        if after is not None:
            try:
                after(result)
            except Exception:
                log.exception("after a store write")
        return result

    def mark(self, event_id: str, hook_id: str, attempt: Attempt | None, gone: Callable[[int], None],
             lazy: bool) -> asyncio.Task[Any] | None:
        """A delivered mark (and the attempt behind it); `gone(n)` with the events that left the cache.
        Lazy: queued for company, no task yet."""
        if lazy:
            self.refuse_if_closed()
        self._marks.append((event_id, hook_id))
        if attempt is not None:
            self._attempts.append((event_id, attempt))
        self._marks_gone = gone
        if not lazy or len(self._marks) >= LAZY_BATCH:
            return self.flush_marks()
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LAZY_DELAY, self.flush_marks)
        return None

    def flush_marks(self) -> asyncio.Task[Any] | None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._marks:
            return None
        marks, self._marks = self._marks, []
        tried, self._attempts = self._attempts, []
        gone = self._marks_gone
        task = self.start(DELIVERED, [m[0] for m in marks], [m[1] for m in marks],
                          time.time() if self.keep_delivered else None, [t[0] for t in tried],
                          [t[1].hook_id for t in tried], [t[1].at for t in tried], [t[1].http_status for t in tried],
                          [t[1].error for t in tried], [t[1].latency_ms for t in tried],
                          after=None if gone is None else lambda n: gone(int(n)), late=True)
        task.add_done_callback(partial(_log_lost_marks, len(marks)))
        return task

    async def settled(self) -> None:
        """Every write handed over before this call has finished (a read then sees them)."""
        self.flush_marks()
        waiting = [*self._inflight, *filter(None, [self.adds.busy])]
        if waiting:
            await asyncio.shield(asyncio.gather(*waiting, return_exceptions=True))

    async def close(self) -> None:
        """Refuse new writes; finish those handed over."""
        self.closed = True
        await self.settled()


def _log_lost_marks(count: int, done: asyncio.Task[Any]) -> None:
    """A lazy mark nobody awaits: a failure is logged (the rows stay pending: a duplicate, not a loss)."""
    if not done.cancelled() and done.exception() is not None:
        log.warning("could not record %d deliveries: %s", count, done.exception())
