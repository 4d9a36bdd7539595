"""The store's single writer: concurrent writes are grouped into one transaction (group commit).

Every caller can wait for the commit that holds ITS write, so "returned" means "on disk", but a
burst of events costs one commit, not one each. A batch runs as ONE call into the writer's own
thread and connection (reads stay on the store's aiosqlite connection; WAL lets them run side by
side), because hopping threads per statement, not SQLite, was what made small commits slow.
Same-statement writes in a batch run as one `executemany`, in the dependency-safe order below
(an event before its rows, rows before the delete that checks them). Callers await through
`asyncio.shield`, so a cancelled caller never loses a write that was already handed over.

An event gets its `seq` here, in the transaction that stores it: the last one handed out is kept
in `counters`, so seqs increase in commit order and are never reused, even after deletions. The
write's result is that seq (truthy), and `after` receives it.

A write may carry a dedupe key: the key is recorded in the same transaction as the write's rows,
and when it was already there the rows are skipped (the write's result is False, `after` does not
run). So a key never outlives a lost event, and an event is never stored twice for one key.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatshooked.errors import StoreError
from whatshooked.store.sqlite.dedupe import claim_all
from whatshooked.store.sqlite.guard import StoreGuard, StoreUnavailable, disk_fault
from whatshooked.store.sqlite.lane import ThreadLane
from whatshooked.store.sqlite.statements import DELIVERED, INSERT_EVENT, apply_delivered, statements

log = logging.getLogger(__name__)

MAX_BATCH = 1024  # writes per transaction; more wait for the next one
LAZY_DELAY = 0.01  # writes nobody waits for (delivered marks) may wait this long to share a commit...
LAZY_BATCH = 128  # ...unless this many are waiting
BUSY_TIMEOUT_MS = 5000
CHECKPOINT_INTERVAL = 1.0  # seconds between WAL checkpoints, run by the store off the commit path

# Runs in the writer thread inside the batch's transaction; returns (result, change in event count).
Custom = Callable[[sqlite3.Connection], tuple[Any, int]]


@dataclass(slots=True)
class Write:
    """Rows for mergeable statements, or a custom function; with neither, a barrier (flush).

    `after` runs in the event loop once the write is committed, even if whoever waits on the
    future was cancelled meanwhile (the dispatcher hands events to hooks from there).
    With a `dedupe_key` (statements only) the rows go in only if the key is new: the result is
    True (the seq, for an event) then, False for a duplicate (nothing written, `after` not run).
    """

    statements: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    custom: Custom | None = None
    after: Callable[[int], None] | None = None
    future: asyncio.Future[Any] | None = None
    dedupe_key: str | None = None


class Writer:
    """Owns the write connection and its thread; `count` tracks the events table's size."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        self.commits = 0
        self.on_count: Callable[[int], None] | None = None
        self.keep_delivered = False  # delivered events stay (marked) rather than leave (message_cache.keep_delivered)
        self.guard = StoreGuard(path)
        self._thread = ThreadLane("whatshooked-store-writer")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[Write] = []  # handed over, not yet in a transaction
        self._batch: list[Write] = []  # in the transaction being committed
        self._handed = 0  # writes handed over so far...
        self._settled = 0  # ...and how many of them are settled (committed or failed), in order
        self._readers: list[tuple[int, asyncio.Future[None]]] = []  # waiting for _settled to reach theirs
        self._wake = asyncio.Event()
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        await self._in_thread(self._connect)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="whatshooked-store-writer")

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the store checkpoints from its other connection
        self._conn = conn

    async def submit(self, write: Write) -> Any:
        return await asyncio.shield(self.submit_nowait(write))

    def submit_nowait(self, write: Write) -> asyncio.Future[Any]:
        """Hand a write over; it is committed with the next batch (await the future to know when)."""
        write.future = asyncio.get_running_loop().create_future()
        self.hand_over(write)
        return write.future

    def hand_over(self, write: Write, urgent: bool = True) -> None:
        """Hand a write over without a future: failures are logged, not raised.

        Not `urgent`: it may wait up to LAZY_DELAY for company (or until someone commits anyway).
        """
        if self._closed:
            raise StoreError("the store is closed (whatshooked is shutting down)")
        self._pending.append(write)
        self._handed += 1
        if urgent or len(self._pending) >= LAZY_BATCH:
            self._wake.set()
        elif self._lazy_timer is None:
            self._lazy_timer = asyncio.get_running_loop().call_later(LAZY_DELAY, self._wake.set)

    async def settled(self) -> None:
        """Return once every write handed over before this call is settled (a read then sees them).

        Free when nothing is pending; otherwise lazy writes are committed now rather than after LAZY_DELAY.
        """
        if self._settled >= self._handed or self._task is None or self._task.done():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._readers.append((self._handed, future))
        self._wake.set()
        await asyncio.shield(future)

    def uncommitted_delivered(self, hook_id: str) -> set[str]:
        """Events with a delivered mark for this hook handed over but not committed yet."""
        return {params[0] for write in (*self._batch, *self._pending) for index, params in write.statements
                if index == DELIVERED and params[1] == hook_id}

    def _settle_readers(self, count: int) -> None:
        self._settled += count
        waiting = []
        for target, future in self._readers:
            if target > self._settled:
                waiting.append((target, future))
            elif not future.done():
                future.set_result(None)
        self._readers = waiting

    async def close(self) -> None:
        """Commit everything already submitted, then stop."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._wake.set()
            await self._task
        if self._conn is not None:
            await self._in_thread(self._conn.close)
        self._thread.shutdown()

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self._thread.call(function, *args)

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._lazy_timer is not None:
                    self._lazy_timer.cancel()
                    self._lazy_timer = None
                while self._pending:  # writes handed over meanwhile join the next batch
                    batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                    self._batch = batch
                    try:
                        await self._commit_batch(batch)
                    finally:
                        self._batch = []
                        self._settle_readers(len(batch))
                if self._closed:
                    return
        finally:  # however the writer stops, no read waits for it any longer
            for _target, future in self._readers:
                if not future.done():
                    future.set_result(None)
            self._readers = []

    async def _commit_batch(self, batch: list[Write]) -> None:
        try:
            results, delta = await self._in_thread(self._transaction, batch)
        except Exception as exc:  # noqa: BLE001 - isolate the failing write, fail only its caller
            if isinstance(exc, StoreUnavailable) or disk_fault(exc):  # every write would fail: fail them all
                error = exc if isinstance(exc, StoreUnavailable) else self.guard.write_failed(exc)
                for write in batch:
                    _settle(write, exc=error)
                return
            if len(batch) == 1:
                log.error("store write failed: %s", exc)
                _settle(batch[0], exc=exc)
                return
            for write in batch:
                await self._commit_batch([write])
            return
        self.guard.committed()
        self.count += delta
        self.commits += 1
        if self.on_count is not None:
            self.on_count(self.count)
        for write, result in zip(batch, results, strict=True):
            _settle(write, result=result)

    def _transaction(self, batch: list[Write]) -> tuple[list[Any], int]:
        """In the writer thread: the whole batch, one transaction."""
        conn = self._conn
        assert conn is not None
        results: list[Any] = []
        grouped: dict[int, list[tuple[Any, ...]]] = {}
        delta = 0
        seq = first = -1  # the last seq handed out, read with the batch's first event
        if self.guard.gone:
            raise StoreUnavailable(self.guard.fault)
        conn.execute("BEGIN IMMEDIATE")
        try:
            claims: dict[int, bool] = {}
            for position, write in enumerate(batch):
                if write.custom is None:
                    # The keys of this run of writes (up to the next custom one) go in now (no other table
                    # depends on them), their rows with the batch's merged statements: all in this transaction.
                    if position not in claims:
                        claims.update(_claim_run(conn, batch, position))
                    if not claims[position]:
                        results.append(False)
                        continue
                    result: Any = True
                    for index, params in write.statements:
                        if index == INSERT_EVENT:
                            if seq < 0:
                                seq = first = _last_seq(conn)
                            seq += 1
                            params, result = (seq, *params), seq
                        grouped.setdefault(index, []).append(params)
                    results.append(result)
                    continue
                delta += self._flush(conn, grouped)
                grouped = {}
                result, changed = write.custom(conn)
                results.append(result)
                delta += changed
            delta += self._flush(conn, grouped)
            if seq != first:
                conn.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (seq,))
            conn.execute("COMMIT")
            self.guard.check_file()  # committed into the file at storage.path, not one deleted meanwhile
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results, delta

    def _flush(self, conn: sqlite3.Connection, grouped: dict[int, list[tuple[Any, ...]]]) -> int:
        delta = 0
        for index in sorted(grouped):
            if index == DELIVERED:
                delta -= apply_delivered(conn, grouped[index], time.time() if self.keep_delivered else None)
                continue
            for sql, params in statements(index, grouped[index]):
                changed = max(conn.execute(sql, params).rowcount, 0)
                if index == INSERT_EVENT:
                    delta += changed
        return delta


def _last_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    return int(row[0])


def _claim_run(conn: sqlite3.Connection, batch: list[Write], start: int) -> dict[int, bool]:
    """Claims for the writes from `start` up to the next custom write (which may change dedupe)."""
    end = start
    while end < len(batch) and batch[end].custom is None:
        end += 1
    keys = [write.dedupe_key for write in batch[start:end]]
    return dict(zip(range(start, end), claim_all(conn, keys), strict=True))


def _settle(write: Write, result: Any = None, exc: BaseException | None = None) -> None:
    future = write.future
    duplicate = write.dedupe_key is not None and result is False
    if exc is None and write.after is not None and not duplicate:
        try:
            write.after(result)
        except Exception:
            log.exception("after a store write")
    if future is None:
        if exc is not None and not isinstance(exc, StoreUnavailable):  # that one is logged once, by the guard
            log.warning("could not record a delivery: %s", exc)
        return
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
