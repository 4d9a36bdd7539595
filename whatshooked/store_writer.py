"""The store's single writer: concurrent writes are grouped into one transaction (group commit).

Every caller still waits for the commit that holds ITS write, so "returned" means "on disk", but a
burst of events costs one commit, not one each. Same-statement writes in a batch run as one
`executemany`; the statement order below is dependency-safe (an event before its rows, rows before
the delete that checks them). Callers await through `asyncio.shield`, so a cancelled caller never
loses a write that was already handed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from whatshooked.errors import StoreError

log = logging.getLogger(__name__)

MAX_BATCH = 1024  # writes per transaction; more wait for the next one

# Mergeable statements, in the order a batch runs them.
INSERT_EVENT = 0
INSERT_DELIVERY = 1
UPDATE_ATTEMPT = 2
UPDATE_GIVEN_UP = 3
UPDATE_DELIVERED = 4
DELETE_IF_DONE = 5
STATEMENTS = (
    "INSERT OR IGNORE INTO events (id, type, timestamp, created_at, body) VALUES (?, ?, ?, ?, ?)",
    "INSERT OR IGNORE INTO deliveries (event_id, hook_id) VALUES (?, ?)",
    "UPDATE deliveries SET state = 'pending', attempts = ?, next_attempt_at = ?, last_error = ? "
    "WHERE event_id = ? AND hook_id = ? AND state != 'delivered'",
    "UPDATE deliveries SET state = 'failed', last_error = ?, retryable = ? "
    "WHERE event_id = ? AND hook_id = ? AND state != 'delivered'",
    "UPDATE deliveries SET state = 'delivered', last_error = '' WHERE event_id = ? AND hook_id = ?",
    "DELETE FROM events WHERE id = ? AND NOT EXISTS "
    "(SELECT 1 FROM deliveries WHERE event_id = ? AND state != 'delivered')",
)

Custom = Callable[["Writer"], Awaitable[Any]]  # runs inside the transaction; keeps `count` right


@dataclass(slots=True)
class Write:
    """Either rows for mergeable statements, or a custom function run inside the transaction."""

    statements: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    custom: Custom | None = None
    future: asyncio.Future[Any] | None = None


class Writer:
    """Owns the write side of one connection; `count` tracks the events table's size."""

    def __init__(self, db: aiosqlite.Connection, count: int) -> None:
        self.db = db
        self.count = count
        self.on_count: Callable[[int], None] | None = None
        self._queue: asyncio.Queue[Write | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="whatshooked-store-writer")

    async def submit(self, write: Write) -> Any:
        if self._closed:
            raise StoreError("the store is closed (whatshooked is shutting down)")
        write.future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(write)
        return await asyncio.shield(write.future)

    async def close(self) -> None:
        """Commit everything already submitted, then stop."""
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            item = await self._queue.get()
            batch: list[Write] = []
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if stopping or len(batch) >= MAX_BATCH or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[Write]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception as exc:  # noqa: BLE001 - isolate the failing write, fail only its caller
            await self._recount()
            if len(batch) == 1:
                log.error("store write failed: %s", exc)
                _settle(batch[0], exc=exc)
                return
            for write in batch:
                await self._commit_batch([write])
            return
        for write, result in zip(batch, results, strict=True):
            _settle(write, result=result)

    async def _transaction(self, batch: list[Write]) -> list[Any]:
        db = self.db
        results: list[Any] = []
        grouped: dict[int, list[tuple[Any, ...]]] = {}
        await db.execute("BEGIN IMMEDIATE")
        try:
            for write in batch:
                if write.custom is None:
                    for index, params in write.statements:
                        grouped.setdefault(index, []).append(params)
                    results.append(None)
                    continue
                await self._flush(grouped)
                grouped = {}
                results.append(await write.custom(self))
            await self._flush(grouped)
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
        if self.on_count is not None:
            self.on_count(self.count)
        return results

    async def _flush(self, grouped: dict[int, list[tuple[Any, ...]]]) -> None:
        for index in sorted(grouped):
            rows = grouped[index]
            cursor = await (
                self.db.execute(STATEMENTS[index], rows[0]) if len(rows) == 1
                else self.db.executemany(STATEMENTS[index], rows)
            )
            if index == INSERT_EVENT:
                self.count += max(cursor.rowcount, 0)
            elif index == DELETE_IF_DONE:
                self.count -= max(cursor.rowcount, 0)

    async def _recount(self) -> None:
        rows = list(await self.db.execute_fetchall("SELECT COUNT(*) FROM events"))
        self.count = int(rows[0][0])
        if self.on_count is not None:
            self.on_count(self.count)


def _settle(write: Write, result: Any = None, exc: BaseException | None = None) -> None:
    future = write.future
    if future is None or future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
