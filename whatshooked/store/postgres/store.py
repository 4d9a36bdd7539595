"""The PostgreSQL store: the SQLite store's behaviour in a database several daemons can share (DESIGN §8.1).

Every write is one statement (one round trip, one transaction) on a pooled connection, started at
once (writes.py); events go in batches, one batch at a time (adds.py). Every read first waits for the
writes handed over before it.

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
from typing import Any

import asyncpg

import whatshooked.store.postgres.claims as claims
from whatshooked.errors import StoreError
from whatshooked.events import Event, with_seq
from whatshooked.store.base import Attempt, Delivery, DeliveryRow, Store, removing
from whatshooked.store.postgres.account_leases import PgAccountLeases
from whatshooked.store.postgres.adds import Add
from whatshooked.store.postgres.answers import KeptAnswers
from whatshooked.store.postgres.history import HistoryReads
from whatshooked.store.postgres.migrate import prepare
from whatshooked.store.postgres.notices import Notices
from whatshooked.store.postgres.schema import ADD_EVENTS
from whatshooked.store.postgres.writes import UNREACHABLE, Writes
from whatshooked.store.seal import Sealer, open_plain

log = logging.getLogger(__name__)

COUNT = "SELECT count(*) FROM events WHERE delivered_at IS NULL"  # the cache's size

POOL_SIZE = 10
CONNECT_TIMEOUT = 10.0


class PostgresStore(KeptAnswers, HistoryReads, Store):
    def __init__(self, pool: asyncpg.Pool, where: str, sealer: Sealer | None, node: str, lease: float,
                 count: int, notices: Notices, url: str = "") -> None:
        self.where = where
        self._accounts = PgAccountLeases(pool, url, where, node, lease)
        self._notices = notices
        self.node = node
        self._pool = pool
        self._sealer = sealer
        self._lease = lease
        self._keep_delivered = 0.0
        self._count = count
        self._on_count: Callable[[int], None] | None = None
        self._writes = Writes(pool, where, self._add_batch)
        self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="whatshooked-store-leases")

    @classmethod
    async def open(cls, url: str, where: str, sealer: Sealer | None, node: str, lease: float) -> PostgresStore:
        """Connect, migrate (under a lock), check or reseal the bodies. `where` is the URL without its password."""
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT)
        except (*UNREACHABLE, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
            raise StoreError(f"storage.url: cannot connect to {where}: {exc}") from None
        try:
            async with pool.acquire() as conn:
                await prepare(conn, where, sealer)
                count = int(await conn.fetchval(COUNT))
        except asyncpg.PostgresError as exc:
            await pool.close()
            raise StoreError(f"storage.url: {where}: {exc}") from None
        except BaseException:
            await pool.close()
            raise
        log.info("store %s open as node %s, %d undelivered events", where, node, count)
        return cls(pool, where, sealer, node, lease, count, Notices(url, where, node), url)

    async def close(self) -> None:
        if self._writes.closed:
            return
        await self._writes.close()
        self._renewer.cancel()
        await asyncio.gather(self._renewer, return_exceptions=True)
        await self._notices.close()
        with contextlib.suppress(*UNREACHABLE, asyncpg.PostgresError):
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

    @property
    def account_leases(self) -> PgAccountLeases:
        return self._accounts

    def check(self) -> str | None:
        return self._writes.fault

    async def announce(self, message: str) -> None:
        try:
            await self._notices.send(self._pool, message)
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            raise StoreError(f"{self.where}: {exc}") from None

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

    def set_keep_delivered(self, seconds: float) -> None:
        self._writes.keep_delivered = seconds > 0
        self._keep_delivered = seconds

    def _keep_at(self) -> float | None:
        """When an event delivered now is marked so (kept for the feed), or None: it goes."""
        return time.time() if self._writes.keep_delivered else None

    # -- writes ------------------------------------------------------------
    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[int], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[int]:
        """Hand the event over; the future gives its seq, and `after(seq)` runs, once it is committed (0,
        and no `after`, for a dedupe key stored before, by this daemon or another)."""
        self._writes.refuse_if_closed()
        plain = body if body is not None else event.to_json()
        blob = plain if self._sealer is None else self._sealer.seal(plain)
        future = self._writes.adds.submit(Add((event.id, event.type, event.timestamp, time.time(), blob),
                                              list(hook_ids), dedupe_key, event.account_id))

        def stored(done: asyncio.Future[int]) -> None:
            if done.cancelled() or done.exception() is not None or not done.result():
                return
            self._counted(1)
            if after is not None:
                try:
                    after(done.result())
                except Exception:
                    log.exception("after a store write")

        future.add_done_callback(stored)
        return future

    async def _add_batch(self, batch: list[Add]) -> dict[str, int]:
        rows = [add.row for add in batch]
        pairs = [(add.row[0], hook_id) for add in batch for hook_id in add.hook_ids]
        stored = await self._writes.fetchrow(
            ADD_EVENTS, *(list(column) for column in zip(*rows, strict=True)), [a.dedupe_key for a in batch],
            [p[0] for p in pairs], [p[1] for p in pairs], self.node, self._lease, [a.account_id for a in batch])
        return dict(zip(stored[0], stored[1], strict=True))

    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> bool:
        return bool(await asyncio.shield(self._writes.start(claims.ADD_ROWS, event_id, list(hook_ids), self.node,
                                                            self._lease)))

    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str,
        attempt: Attempt | None = None,
    ) -> None:
        await asyncio.shield(self._writes.start(claims.ATTEMPT, attempts, next_attempt_at, error, event_id, hook_id,
                                                self.node, self._lease, *_history(attempt)))

    async def mark_given_up(
        self, event_id: str, hook_id: str, error: str, retryable: bool = True, attempt: Attempt | None = None,
    ) -> None:
        await asyncio.shield(self._writes.start(claims.GIVEN_UP, error, retryable, event_id, hook_id,
                                                *_history(attempt)))

    async def mark_delivered(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        task = self._writes.mark(event_id, hook_id, attempt, self._gone, lazy=False)
        if task is not None:
            await asyncio.shield(task)

    def mark_delivered_soon(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        """Queued for a few milliseconds to share one call with others (a crash before it: a duplicate)."""
        self._writes.mark(event_id, hook_id, attempt, self._gone, lazy=True)

    @removing
    async def finish_event(self, event_id: str) -> None:
        await asyncio.shield(self._writes.start(claims.FINISH, event_id, self._keep_at(), after=self._gone))

    @removing
    async def delete_event(self, event_id: str) -> bool:
        deleted, cached = await asyncio.shield(self._writes.start(claims.DELETE_ONE, event_id,
                                                                  after=lambda row: self._gone(row[1])))
        return int(deleted) > 0

    @removing
    async def clear(self) -> int:
        return int(await asyncio.shield(self._writes.start(claims.DELETE_ALL, after=self._gone)))

    def _gone(self, deleted: Any) -> None:
        self._counted(-int(deleted))

    @removing
    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        """Drop events older than `max_age` seconds, then the oldest beyond `max_events`; old dedupe keys too."""
        moment = time.time() if now is None else now
        aged, over = await asyncio.shield(self._writes.start(claims.PRUNE, moment - max_age, max_events,
                                                             moment - self._keep_delivered,
                                                             after=lambda row: self._counted(-(row[0] + row[1]))))
        return {"max_age": int(aged), "max_events": int(over)}

    # -- claims --------------------------------------------------------------
    async def _renew(self) -> None:
        """Keep this daemon's claims alive, and the event count current (other daemons change it too)."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._pool.execute(claims.RENEW, self.node, self._lease)
                self._counted(int(await self._pool.fetchval(COUNT)) - self._count)
            except (*UNREACHABLE, asyncpg.PostgresError) as exc:
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
        await self._writes.settled()
        rows = await self._pool.fetch(claims.CLAIM, list(hook_ids), self.node, self._lease, own_too)
        return [self._delivery(row) for row in rows]

    async def given_up_for(self, hook_id: str, after: int = 0, limit: int | None = None) -> list[Delivery]:
        await self._writes.settled()
        rows = await self._pool.fetch(claims.GIVEN_UP_FOR, hook_id, after, limit)  # LIMIT NULL: all
        return [self._delivery(row) for row in rows]

    def _delivery(self, row: Any) -> Delivery:
        body = with_seq(self._plain(row["body"]), row["seq"])
        return Delivery(Event.from_json(body), body, row["hook_id"], row["state"], row["attempts"],
                        row["next_attempt_at"], row["retryable"])

    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        await self._writes.settled()
        return bool(await self._pool.fetchval(
            "SELECT 1 FROM deliveries WHERE event_id = $1 AND hook_id = $2 AND state != 'delivered'",
            event_id, hook_id))

    async def get_body(self, event_id: str) -> bytes | None:
        await self._writes.settled()
        row = await self._pool.fetchrow("SELECT seq, body FROM events WHERE id = $1", event_id)
        return None if row is None else with_seq(self._plain(row["body"]), row["seq"])

    def _plain(self, blob: bytes) -> bytes:
        data = bytes(blob)
        return open_plain(data, self.where) if self._sealer is None else self._sealer.open(data, self.where)

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        await self._writes.settled()
        rows = await self._pool.fetch(
            "SELECT hook_id, state, attempts, next_attempt_at, last_error FROM deliveries "
            "WHERE event_id = $1 ORDER BY hook_id", event_id)
        return [DeliveryRow(*row) for row in rows]

    async def stats(self) -> tuple[int, dict[str, int]]:
        await self._writes.settled()
        rows = await self._pool.fetch(
            "SELECT type, count(*) FROM events WHERE delivered_at IS NULL GROUP BY type ORDER BY type")
        by_type = {row[0]: int(row[1]) for row in rows}
        return sum(by_type.values()), by_type



def _history(attempt: Attempt | None) -> tuple[Any, ...]:
    """The attempt's columns for a mark's statement (claims._history); all NULL without one."""
    if attempt is None:
        return (None,) * 5
    return attempt.hook_id, attempt.at, attempt.http_status, attempt.error, attempt.latency_ms
