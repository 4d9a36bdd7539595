"""The SQLite store: events, per-hook delivery state and dedupe keys (DESIGN §5).

An event stays here until every hook it was meant for has it; one that no hook matched stays too.
So "the cache" (`/api/cache`) is simply every event in the table. All writes go through one writer
that commits concurrent writes together (store_writer.py, its own thread and connection); reads and
migrations use this module's aiosqlite connection. Both connections: WAL, busy_timeout, foreign keys.

The interface is store/base.py; every read first waits for the writes handed over before it
(Writer.settled), so lazily queued delivered marks are seen without anyone flushing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

import whatshooked.store.sqlite.queries as queries
from whatshooked.errors import StoreError
from whatshooked.events import Event, with_seq
from whatshooked.private_files import create_private_file, make_private_dir
from whatshooked.store.base import (
    Attempt,
    CacheQuery,
    Delivery,
    DeliveryRow,
    Store,
    StoreUnavailable,
    StoreUnreadable,
    removing,
)
from whatshooked.store.seal import Sealer, open_plain, reseal_all
from whatshooked.store.sqlite.answers import KeptAnswers
from whatshooked.store.sqlite.guard import probe, unreadable
from whatshooked.store.sqlite.history import HistoryReads
from whatshooked.store.sqlite.migrations import migrate, refuse_foreign, refuse_non_file
from whatshooked.store.sqlite.statements import (
    DELIVERED,
    INSERT_ATTEMPT,
    INSERT_DELIVERY,
    INSERT_EVENT,
    UPDATE_ATTEMPT,
    UPDATE_GIVEN_UP,
)
from whatshooked.store.sqlite.writer import BUSY_TIMEOUT_MS, CHECKPOINT_INTERVAL, Write, Writer

log = logging.getLogger(__name__)


_DELIVERY_COLUMNS = "e.seq, e.body, d.hook_id, d.state, d.attempts, d.next_attempt_at, d.retryable"
Statement = tuple[int, tuple[Any, ...]]


def _history(event_id: str, attempt: Attempt | None) -> list[Statement]:
    """The attempt's row, merged with the mark it came with (no write of its own)."""
    if attempt is None:
        return []
    return [(INSERT_ATTEMPT, (event_id, attempt.hook_id, attempt.at, attempt.http_status, attempt.error,
                              attempt.latency_ms))]


class SQLiteStore(KeptAnswers, HistoryReads, Store):
    def __init__(self, db: aiosqlite.Connection, path: Path, writer: Writer, sealer: Sealer | None = None) -> None:
        self.path = path
        self._sealer = sealer
        self._where = str(path)
        self._db = db
        self._writer = writer
        self._probe: asyncio.Future[Any] | None = None
        self._keep_delivered = 0.0
        self._checkpointer = asyncio.get_running_loop().create_task(
            self._checkpoints(), name="whatshooked-store-checkpoint"
        )

    @classmethod
    async def open(cls, path: Path, sealer: Sealer | None = None) -> SQLiteStore:
        """Open (creating and migrating as needed). With a sealer, bodies stored in clear or under an old
        key are resealed first; a body no configured key opens is a SealError (a config error)."""
        # Events carry message contents: a new file is 0600 (SQLite gives its -wal and -shm the same mode)
        # in a folder that, when we make it, is 0700.
        make_private_dir(path.parent)
        refuse_non_file(path)
        create_private_file(path)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await refuse_foreign(db, path)  # before WAL, which would rewrite another program's file header
            await db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL: a commit survives a crash of the process (SIGKILL), fsync at checkpoints.
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA foreign_keys = ON")
            await migrate(db, path)
            await reseal_all(db, path, sealer)
            rows = list(await db.execute_fetchall("SELECT COUNT(*) FROM events WHERE delivered_at IS NULL"))
        except BaseException as exc:
            await db.close()
            if unreadable(exc):
                raise StoreUnreadable(path, exc) from None
            raise
        writer = Writer(path, int(rows[0][0]))
        try:
            await writer.start()
        except BaseException:
            await db.close()
            raise
        log.info("store %s open, %d undelivered events", path, writer.count)
        return cls(db, path, writer, sealer)

    async def close(self) -> None:
        self._checkpointer.cancel()
        await asyncio.gather(self._checkpointer, return_exceptions=True)
        await self._writer.close()
        await self._db.close()

    async def _checkpoints(self) -> None:
        """Move the WAL into the database off the commit path (the writer's autocheckpoint is off).

        A checkpoint fsyncs; inside a commit that stalled publishing for tens of milliseconds.
        """
        done = self._writer.commits
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            if self._writer.commits == done:
                continue
            done = self._writer.commits
            try:
                await self._db.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                log.warning("store %s: checkpoint failed: %s", self.path, exc)

    @property
    def persistent(self) -> bool:
        return True

    @property
    def count(self) -> int:
        return self._writer.count

    def check(self) -> str | None:
        """Why the store cannot take writes now (store_guard), or None. One stat of the file; while a disk
        fault lasts, also a small write in the background, whose outcome the next check tells."""
        guard = self._writer.guard
        with contextlib.suppress(StoreUnavailable):
            guard.check_file()
        if guard.fault is not None and not guard.gone and (self._probe is None or self._probe.done()):
            with contextlib.suppress(StoreError):  # closing
                self._probe = self._writer.submit_nowait(Write(custom=probe))
                self._probe.add_done_callback(lambda done: done.cancelled() or done.exception())
        return guard.fault

    def on_count(self, callback: Callable[[int], None] | None) -> None:
        """Called with the event count after every commit (the cache-size gauge)."""
        self._writer.on_count = callback
        if callback is not None:
            callback(self._writer.count)

    def set_keep_delivered(self, seconds: float) -> None:
        self._writer.keep_delivered = seconds > 0
        self._keep_delivered = seconds

    # -- writes ------------------------------------------------------------
    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[int], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[int]:
        """Hand the event over; the future completes, and `after` runs, once it is committed.

        `after` runs even when whoever awaits the future was cancelled meanwhile. With `dedupe_key`
        the key is recorded in the event's own transaction (a crash loses both or neither); when it
        was recorded before, nothing is stored, the future gives False and `after` does not run.
        """
        plain = body if body is not None else event.to_json()
        row = (event.id, event.type, event.timestamp, time.time(),
               plain if self._sealer is None else self._sealer.seal(plain), event.account_id)
        statements: list[tuple[int, tuple[Any, ...]]] = [(INSERT_EVENT, row)]
        statements += [(INSERT_DELIVERY, (event.id, hook_id)) for hook_id in hook_ids]
        return self._writer.submit_nowait(Write(statements, after=after, dedupe_key=dedupe_key))

    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> bool:
        """In one transaction with the check that the event is still kept (a row for a deleted event
        would break the foreign key, and fail the whole replay)."""
        def run(conn: sqlite3.Connection) -> tuple[bool, int]:
            if conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is None:
                return False, 0
            conn.executemany("INSERT OR IGNORE INTO deliveries (event_id, hook_id) VALUES (?, ?)",
                             [(event_id, hook_id) for hook_id in hook_ids])
            return True, 0

        return bool(await self._writer.submit(Write(custom=run)))

    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str,
        attempt: Attempt | None = None,
    ) -> None:
        row = (UPDATE_ATTEMPT, (attempts, next_attempt_at, error, event_id, hook_id))
        await self._writer.submit(Write([*_history(event_id, attempt), row]))

    async def mark_given_up(
        self, event_id: str, hook_id: str, error: str, retryable: bool = True, attempt: Attempt | None = None,
    ) -> None:
        row = (UPDATE_GIVEN_UP, (error, int(retryable), event_id, hook_id))
        await self._writer.submit(Write([*_history(event_id, attempt), row]))

    async def mark_delivered(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        await self._writer.submit(self._delivered(event_id, hook_id, attempt))

    def mark_delivered_soon(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        """Queue the write without waiting for its commit (a crash before it means a duplicate, not a loss).

        It may wait a few milliseconds to share a commit with others (writer.LAZY_DELAY).
        """
        self._writer.hand_over(self._delivered(event_id, hook_id, attempt), urgent=False)

    @staticmethod
    def _delivered(event_id: str, hook_id: str, attempt: Attempt | None) -> Write:
        return Write([*_history(event_id, attempt), (DELIVERED, (event_id, hook_id))])

    @removing
    async def finish_event(self, event_id: str) -> None:
        """Every row delivered (those of hooks removed meanwhile too), then the event leaves the cache."""
        def run(conn: sqlite3.Connection) -> tuple[None, int]:
            if not self._writer.keep_delivered:
                gone = conn.execute("DELETE FROM events WHERE id = ? AND delivered_at IS NULL", (event_id,)).rowcount
                return None, -max(gone, 0)
            conn.execute("UPDATE deliveries SET state = 'delivered', last_error = '' WHERE event_id = ?", (event_id,))
            left = conn.execute("UPDATE events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                                (time.time(), event_id)).rowcount
            return None, -max(left, 0)

        await self._writer.submit(Write(custom=run))

    @removing
    async def delete_event(self, event_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> tuple[bool, int]:
            gone = conn.execute("DELETE FROM events WHERE id = ? RETURNING delivered_at", (event_id,)).fetchall()
            return bool(gone), -sum(1 for (delivered_at,) in gone if delivered_at is None)

        return bool(await self._writer.submit(Write(custom=run)))

    @removing
    async def clear(self) -> int:
        def run(conn: sqlite3.Connection) -> tuple[int, int]:
            deleted = conn.execute("DELETE FROM events WHERE delivered_at IS NULL").rowcount
            return deleted, -deleted

        return int(await self._writer.submit(Write(custom=run)))

    @removing
    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        """Drop events older than `max_age` seconds, then the oldest beyond `max_events`; old dedupe keys too."""
        moment = time.time() if now is None else now
        cutoff = moment - max_age
        kept_since = moment - self._keep_delivered

        def run(conn: sqlite3.Connection) -> tuple[dict[str, int], int]:
            aged = max(conn.execute(
                "DELETE FROM events WHERE delivered_at IS NULL AND created_at < ?", (cutoff,)
            ).rowcount, 0)
            over = max(conn.execute(
                "DELETE FROM events WHERE delivered_at IS NULL AND seq <= "
                "(SELECT seq FROM events WHERE delivered_at IS NULL ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (max_events,),
            ).rowcount, 0)
            expired = conn.execute(queries.EXPIRE_DELIVERED, (kept_since,)).rowcount
            if expired > 0:
                log.debug("store %s: %d delivered events expired (message_cache.keep_delivered)", self.path, expired)
            conn.execute("DELETE FROM dedupe WHERE seen_at < ?", (cutoff,))
            return {"max_age": aged, "max_events": over}, -(aged + over)

        dropped: dict[str, int] = await self._writer.submit(Write(custom=run))
        return dropped

    # -- reads -------------------------------------------------------------
    async def pending(self, hook_ids: Sequence[str]) -> list[Delivery]:
        """Rows still in their retry schedule for these hooks (to resume after a restart), oldest first."""
        if not hook_ids:
            return []
        marks = ",".join("?" * len(hook_ids))
        return await self._deliveries(
            f"d.state = 'pending' AND d.hook_id IN ({marks})", tuple(hook_ids)
        )

    async def given_up_for(self, hook_id: str, after: int = 0, limit: int | None = None) -> list[Delivery]:
        """Rows whose retries ran out on retryable errors (not refusals), oldest first; a page after `after`."""
        return await self._deliveries("d.state = 'failed' AND d.retryable = 1 AND d.hook_id = ? AND e.seq > ?",
                                      (hook_id, after), -1 if limit is None else limit)

    async def _deliveries(self, where: str, params: tuple[Any, ...], limit: int = -1) -> list[Delivery]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id "
            f"WHERE {where} ORDER BY e.seq LIMIT ?",
            (*params, limit),
        )
        out = []
        for seq, blob, hook_id, state, attempts, next_at, retryable in rows:
            body = with_seq(self._plain(blob), seq)
            out.append(Delivery(Event.from_json(body), body, hook_id, state, attempts, next_at, bool(retryable)))
        return out

    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        await self._writer.settled()
        rows = list(await self._db.execute_fetchall(
            "SELECT 1 FROM deliveries WHERE event_id = ? AND hook_id = ? AND state != 'delivered'",
            (event_id, hook_id),
        ))
        return bool(rows)

    async def owed(self) -> dict[str, tuple[int, float]]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(
            "SELECT d.hook_id, COUNT(*), MIN(e.created_at) FROM deliveries d JOIN events e ON e.id = d.event_id "
            "WHERE d.state != 'delivered' GROUP BY d.hook_id"
        )
        return {hook_id: (int(count), float(oldest)) for hook_id, count, oldest in rows}

    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]:
        await self._writer.settled()
        page = await self.cached_after(0, -1 if limit is None else limit, CacheQuery(event_type=event_type))
        return [event for _, event, _ in page]

    async def get_body(self, event_id: str) -> bytes | None:
        await self._writer.settled()
        rows = list(await self._db.execute_fetchall("SELECT seq, body FROM events WHERE id = ?", (event_id,)))
        return with_seq(self._plain(rows[0][1]), rows[0][0]) if rows else None

    def _plain(self, blob: bytes) -> bytes:
        """A stored body as JSON text: opened when sealed (store_seal.py)."""
        data = bytes(blob)
        return open_plain(data, self._where) if self._sealer is None else self._sealer.open(data, self._where)

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(
            "SELECT hook_id, state, attempts, next_attempt_at, last_error FROM deliveries "
            "WHERE event_id = ? ORDER BY hook_id",
            (event_id,),
        )
        return [DeliveryRow(*row) for row in rows]

    async def stats(self) -> tuple[int, dict[str, int]]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(
            "SELECT type, COUNT(*) FROM events WHERE delivered_at IS NULL GROUP BY type ORDER BY type"
        )
        by_type = {kind: int(n) for kind, n in rows}
        return sum(by_type.values()), by_type
