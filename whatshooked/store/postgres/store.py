"""The PostgreSQL store: the SQLite store's behaviour in a database several daemons can share (DESIGN §8.1).

Every write is one statement (one round trip, one transaction) on a pooled connection, started as a
task at once, so a caller cancelled meanwhile loses nothing; delivered marks handed over lazily wait a
few milliseconds to go together in one call. Every read first waits for the writes handed over before it.

Shared by several daemons: dedupe keys are the database's (one event per key, whichever daemon stores
it), and every pending delivery row is claimed by one daemon (`claimed_by`, `lease_until` on the
database's clock). A daemon renews its leases while it runs and frees them when it stops; `pending()`
claims the rows that are free, its own, or whose lease ran out (`FOR UPDATE SKIP LOCKED`), so when a
daemon dies another resumes its deliveries, under the same event ids, once the lease has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import asyncpg

from whatshooked.errors import StoreError
from whatshooked.events import Event
from whatshooked.store.base import Delivery, DeliveryRow, Store, StoreUnavailable
from whatshooked.store.postgres import claims
from whatshooked.store.postgres.adds import Add, AddQueue
from whatshooked.store.postgres.migrate import prepare
from whatshooked.store.postgres.notices import Notices
from whatshooked.store.postgres.schema import ADD_EVENTS, DELIVERED
from whatshooked.store.seal import Sealer, open_plain

log = logging.getLogger(__name__)

LAZY_DELAY = 0.005  # a lazy delivered mark waits this long for company
LAZY_BATCH = 512  # ... or until this many are waiting
POOL_SIZE = 10
CONNECT_TIMEOUT = 10.0
_UNREACHABLE = (OSError, asyncpg.InterfaceError, asyncpg.ConnectionFailureError, asyncpg.CannotConnectNowError)


class PostgresStore(Store):
    def __init__(self, pool: asyncpg.Pool, where: str, sealer: Sealer | None, node: str, lease: float,
                 count: int, notices: Notices) -> None:
        self.where = where
        self._notices = notices
        self.node = node
        self._pool = pool
        self._sealer = sealer
        self._lease = lease
        self._count = count
        self._on_count: Callable[[int], None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._marks: list[tuple[str, str]] = []
        self._mark_timer: asyncio.TimerHandle | None = None
        self._fault: str | None = None
        self._closed = False
        self._adds = AddQueue(self._add_batch)
        self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="whatshooked-store-leases")

    @classmethod
    async def open(cls, url: str, where: str, sealer: Sealer | None, node: str, lease: float) -> PostgresStore:
        """Connect, migrate (under a lock), check or reseal the bodies. `where` is the URL without its password."""
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT)
        except (*_UNREACHABLE, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
            raise StoreError(f"cannot connect to {where}: {exc}") from None
        try:
            async with pool.acquire() as conn:
                await prepare(conn, where, sealer)
                count = int(await conn.fetchval("SELECT count(*) FROM events"))
        except asyncpg.PostgresError as exc:
            await pool.close()
            raise StoreError(f"{where}: {exc}") from None
        except BaseException:
            await pool.close()
            raise
        log.info("store %s open as node %s, %d undelivered events", where, node, count)
        return cls(pool, where, sealer, node, lease, count, Notices(url, where, node))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._flush_marks()
        await self._settled()
        self._renewer.cancel()
        await asyncio.gather(self._renewer, return_exceptions=True)
        await self._notices.close()
        with contextlib.suppress(*_UNREACHABLE, asyncpg.PostgresError):
            await self._pool.execute(claims.RELEASE, self.node)  # another daemon may take them at once
        await self._pool.close()

    @property
    def persistent(self) -> bool:
        return True

    @property
    def count(self) -> int:
        return self._count

    @property
    def lease(self) -> float | None:
        return self._lease

    def check(self) -> str | None:
        return self._fault

    async def announce(self, message: str) -> None:
        await self._notices.send(self._pool, message)

    def on_announcement(self, callback: Callable[[str], None] | None) -> None:
        self._notices.listen(callback)

    def on_count(self, callback: Callable[[int], None] | None) -> None:
        self._on_count = callback
        if callback is not None:
            callback(self._count)

    def _counted(self, delta: int) -> None:
        if delta:
            self._count = max(self._count + delta, 0)
            if self._on_count is not None:
                self._on_count(self._count)

    # -- running writes --------------------------------------------------------
    def _write(self, sql: str, *args: Any, after: Callable[[Any], None] | None = None,
               late: bool = False) -> asyncio.Task[Any]:
        """Start one statement now, as a task of its own (a read waits for it); `after(result)` on success.

        `late`: handed over before close began (lazy marks), so it still goes."""
        if self._closed and not late:
            raise StoreError("the store is closed (whatshooked is shutting down)")
        task = asyncio.get_running_loop().create_task(self._run(sql, args, after))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def _run(self, sql: str, args: tuple[Any, ...], after: Callable[[Any], None] | None) -> Any:
        try:
            result = await self._pool.fetchval(sql, *args)
        except _UNREACHABLE as exc:
            self._fault = f"PostgreSQL at {self.where} cannot be reached: {exc}"
            raise StoreUnavailable(self._fault) from None
        self._fault = None
        if after is not None:
            try:
                after(result)
            except Exception:
                log.exception("after a store write")
        return result

    async def _settled(self) -> None:
        """Every write handed over before this call has finished (a read then sees them)."""
        self._flush_marks()
        waiting = [*self._inflight, *filter(None, [self._adds.busy])]
        if waiting:
            await asyncio.shield(asyncio.gather(*waiting, return_exceptions=True))

    # -- writes ------------------------------------------------------------
    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[bool]:
        """Hand the event over; the future completes, and `after` runs, once it is committed (not for a
        dedupe key stored before, by this daemon or another: the future gives False)."""
        if self._closed:
            raise StoreError("the store is closed (whatshooked is shutting down)")
        plain = body if body is not None else event.to_json()
        blob = plain if self._sealer is None else self._sealer.seal(plain)
        future = self._adds.submit(Add((event.id, event.type, event.timestamp, time.time(), blob),
                                       list(hook_ids), dedupe_key))

        def stored(done: asyncio.Future[bool]) -> None:
            if done.cancelled() or done.exception() is not None or not done.result():
                return
            self._counted(1)
            if after is not None:
                try:
                    after()
                except Exception:
                    log.exception("after a store write")

        future.add_done_callback(stored)
        return future

    async def _add_batch(self, batch: list[Add]) -> set[str]:
        rows = [add.row for add in batch]
        pairs = [(add.row[0], hook_id) for add in batch for hook_id in add.hook_ids]
        try:
            stored = await self._pool.fetchval(
                ADD_EVENTS, *(list(column) for column in zip(*rows, strict=True)), [a.dedupe_key for a in batch],
                [p[0] for p in pairs], [p[1] for p in pairs], self.node, self._lease)
        except _UNREACHABLE as exc:
            self._fault = f"PostgreSQL at {self.where} cannot be reached: {exc}"
            raise StoreUnavailable(self._fault) from None
        self._fault = None
        return set(stored)

    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> None:
        await asyncio.shield(self._write(claims.ADD_ROWS, event_id, list(hook_ids), self.node, self._lease))

    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None:
        await asyncio.shield(self._write(claims.ATTEMPT, attempts, next_attempt_at, error, event_id, hook_id,
                                         self.node, self._lease))

    async def mark_given_up(self, event_id: str, hook_id: str, error: str, retryable: bool = True) -> None:
        await asyncio.shield(self._write(claims.GIVEN_UP, error, retryable, event_id, hook_id))

    async def mark_delivered(self, event_id: str, hook_id: str) -> None:
        self._marks.append((event_id, hook_id))
        task = self._flush_marks()
        if task is not None:
            await asyncio.shield(task)

    def mark_delivered_soon(self, event_id: str, hook_id: str) -> None:
        """Queued for up to LAZY_DELAY to share one call with others (a crash before it: a duplicate)."""
        if self._closed:
            raise StoreError("the store is closed (whatshooked is shutting down)")
        self._marks.append((event_id, hook_id))
        if len(self._marks) >= LAZY_BATCH:
            self._flush_marks()
        elif self._mark_timer is None:
            self._mark_timer = asyncio.get_running_loop().call_later(LAZY_DELAY, self._flush_marks)

    def _flush_marks(self) -> asyncio.Task[Any] | None:
        if self._mark_timer is not None:
            self._mark_timer.cancel()
            self._mark_timer = None
        if not self._marks:
            return None
        marks, self._marks = self._marks, []
        task = self._write(DELIVERED, [m[0] for m in marks], [m[1] for m in marks],
                           after=lambda gone: self._counted(-int(gone)), late=True)
        task.add_done_callback(partial(_log_lost_marks, len(marks)))
        return task

    async def delete_event(self, event_id: str) -> bool:
        gone = int(await asyncio.shield(self._write(claims.DELETE_ONE, event_id, after=self._gone)))
        return gone > 0

    async def clear(self) -> int:
        return int(await asyncio.shield(self._write(claims.DELETE_ALL, after=self._gone)))

    def _gone(self, deleted: Any) -> None:
        self._counted(-int(deleted))

    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        """Drop events older than `max_age` seconds, then the oldest beyond `max_events`; old dedupe keys too."""
        cutoff = (time.time() if now is None else now) - max_age
        aged, over = await asyncio.shield(self._write(claims.PRUNE, cutoff, max_events,
                                                      after=lambda row: self._counted(-(row[0] + row[1]))))
        return {"max_age": int(aged), "max_events": int(over)}

    # -- claims --------------------------------------------------------------
    async def _renew(self) -> None:
        """Keep this daemon's claims alive, and the event count current (other daemons change it too)."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._pool.execute(claims.RENEW, self.node, self._lease)
                self._counted(int(await self._pool.fetchval("SELECT count(*) FROM events")) - self._count)
            except (*_UNREACHABLE, asyncpg.PostgresError) as exc:
                log.warning("store %s: could not renew this daemon's delivery leases: %s", self.where, exc)

    # -- reads -------------------------------------------------------------
    async def pending(self, hook_ids: Sequence[str]) -> list[Delivery]:
        """Claims, then returns, the rows in their retry schedule for these hooks that are free, this
        daemon's own, or whose claim ran out (their daemon died), oldest first."""
        return await self._claim(hook_ids, True)

    async def take_over(self, hook_ids: Sequence[str]) -> list[Delivery]:
        """Claims, then returns, the rows free or left by a daemon whose lease ran out, oldest first."""
        return await self._claim(hook_ids, False)

    async def _claim(self, hook_ids: Sequence[str], own_too: bool) -> list[Delivery]:
        if not hook_ids:
            return []
        await self._settled()
        rows = await self._pool.fetch(claims.CLAIM, list(hook_ids), self.node, self._lease, own_too)
        return [self._delivery(row) for row in rows]

    async def given_up_for(self, hook_id: str) -> list[Delivery]:
        await self._settled()
        rows = await self._pool.fetch(claims.GIVEN_UP_FOR, hook_id)
        return [self._delivery(row) for row in rows]

    def _delivery(self, row: Any) -> Delivery:
        body = self._plain(row["body"])
        return Delivery(Event.from_json(body), body, row["hook_id"], row["state"], row["attempts"],
                        row["next_attempt_at"], row["retryable"])

    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        await self._settled()
        return bool(await self._pool.fetchval(
            "SELECT 1 FROM deliveries WHERE event_id = $1 AND hook_id = $2 AND state != 'delivered'",
            event_id, hook_id))

    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]:
        await self._settled()
        rows = await self._pool.fetch(
            "SELECT body FROM events WHERE ($1::text IS NULL OR type = $1) ORDER BY seq LIMIT $2",
            event_type or None, limit)
        return [Event.from_json(self._plain(row[0])) for row in rows]

    async def events_after(self, seq: int, limit: int) -> list[tuple[int, Event, bytes]]:
        await self._settled()
        rows = await self._pool.fetch("SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", seq, limit)
        pages = [(int(row[0]), self._plain(row[1])) for row in rows]
        return [(position, Event.from_json(body), body) for position, body in pages]

    async def get_body(self, event_id: str) -> bytes | None:
        await self._settled()
        blob = await self._pool.fetchval("SELECT body FROM events WHERE id = $1", event_id)
        return None if blob is None else self._plain(blob)

    def _plain(self, blob: bytes) -> bytes:
        data = bytes(blob)
        return open_plain(data, self.where) if self._sealer is None else self._sealer.open(data, self.where)

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        await self._settled()
        rows = await self._pool.fetch(
            "SELECT hook_id, state, attempts, next_attempt_at, last_error FROM deliveries "
            "WHERE event_id = $1 ORDER BY hook_id", event_id)
        return [DeliveryRow(*row) for row in rows]

    async def stats(self) -> tuple[int, dict[str, int]]:
        await self._settled()
        rows = await self._pool.fetch("SELECT type, count(*) FROM events GROUP BY type ORDER BY type")
        by_type = {row[0]: int(row[1]) for row in rows}
        return sum(by_type.values()), by_type


def _log_lost_marks(count: int, done: asyncio.Task[Any]) -> None:
    """A lazy mark nobody awaits: a failure is logged (the rows stay pending: a duplicate, not a loss)."""
    if not done.cancelled() and done.exception() is not None:
        log.warning("could not record %d deliveries: %s", count, done.exception())
